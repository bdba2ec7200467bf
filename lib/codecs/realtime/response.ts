// One model turn as an OpenAI client expects to see it: response.created, then per output item its added /
// delta / done events (an assistant message with one audio or text part, function calls), then response.done
// with the turn's usage. The providers behind a codec send only the deltas (audio, transcript fragments, tool
// calls) and turn ends; this class writes the frame around them.
import type { Json } from '../../json.js'
import { newId } from '../../protocols/realtime.js'

/** Stamps and sends an OpenAI server event. */
export type Emit = (event: Json) => void

interface MessageItem {
  id: string
  outputIndex: number
  /** The transcript (audio) or the text so far. */
  text: string
  done: boolean
}

export type ResponseStatus = 'completed' | 'cancelled' | 'incomplete'

/**
 * Characters of a message's text kept for its done events, which repeat it four times (transcript.done,
 * content_part.done, output_item.done, response.done): a provider that streams without end cannot make one turn's
 * end a burst of gigabytes. Past it, deltas still go to the client; the done events carry the first part.
 */
export const MAX_ITEM_TEXT = 256 * 1024

function keep (item: MessageItem, delta: string): void {
  if (item.text.length < MAX_ITEM_TEXT) item.text += delta.slice(0, MAX_ITEM_TEXT - item.text.length)
}

export class ResponseBuilder {
  readonly id = newId('resp')
  readonly #emit: Emit
  readonly #audio: boolean
  readonly #voice: unknown
  /** Items finished so far, as response.done lists them. */
  readonly #output: Json[] = []
  #message: MessageItem | undefined
  #items = 0
  #previousItemId: string | null

  constructor (emit: Emit, audio: boolean, voice: unknown, previousItemId: string | null) {
    this.#emit = emit
    this.#audio = audio
    this.#voice = voice
    this.#previousItemId = previousItemId
    emit({ type: 'response.created', response: this.#response('in_progress', null, []) })
  }

  /** The id of the last item added to the conversation. */
  get lastItemId (): string | null {
    return this.#previousItemId
  }

  #response (status: string, usage: Json | null, output: Json[], details: Json | null = null): Json {
    return {
      object: 'realtime.response',
      id: this.id,
      status,
      status_details: details,
      output,
      conversation_id: null,
      output_modalities: [this.#audio ? 'audio' : 'text'],
      max_output_tokens: 'inf',
      audio: { output: { format: { type: 'audio/pcm', rate: 24000 }, voice: this.#voice } },
      usage,
      metadata: null
    }
  }

  #where (item: MessageItem): Json {
    return { response_id: this.id, item_id: item.id, output_index: item.outputIndex, content_index: 0 }
  }

  #added (item: Json, outputIndex: number): void {
    this.#emit({ type: 'response.output_item.added', response_id: this.id, output_index: outputIndex, item })
    this.#emit({ type: 'conversation.item.added', previous_item_id: this.#previousItemId, item })
    this.#previousItemId = item.id as string
  }

  #openMessage (): MessageItem {
    if (this.#message !== undefined && !this.#message.done) return this.#message
    const item: MessageItem = { id: newId('item'), outputIndex: this.#items++, text: '', done: false }
    this.#message = item
    this.#added({ id: item.id, object: 'realtime.item', type: 'message', status: 'in_progress', role: 'assistant', content: [] }, item.outputIndex)
    this.#emit({ type: 'response.content_part.added', ...this.#where(item), part: this.#audio ? { type: 'audio', transcript: '' } : { type: 'text', text: '' } })
    return item
  }

  /** 24 kHz PCM16, base64. */
  audio (base64: string): void {
    this.#emit({ type: 'response.output_audio.delta', ...this.#where(this.#openMessage()), delta: base64 })
  }

  /** A fragment of the transcript of the model's audio. */
  transcript (delta: string): void {
    const item = this.#openMessage()
    keep(item, delta)
    this.#emit({ type: 'response.output_audio_transcript.delta', ...this.#where(item), delta })
  }

  /** Model text (a text-only session). */
  text (delta: string): void {
    const item = this.#openMessage()
    keep(item, delta)
    this.#emit({ type: 'response.output_text.delta', ...this.#where(item), delta })
  }

  /** Ends the open message item (Gemini's generationComplete, Nova's FINAL text, or the turn's end). */
  endMessage (status: ResponseStatus = 'completed'): void {
    const item = this.#message
    if (item === undefined || item.done) return
    item.done = true
    const where = this.#where(item)
    if (status === 'completed') {
      if (this.#audio) {
        this.#emit({ type: 'response.output_audio.done', ...where })
        this.#emit({ type: 'response.output_audio_transcript.done', ...where, transcript: item.text })
      } else {
        this.#emit({ type: 'response.output_text.done', ...where, text: item.text })
      }
      this.#emit({ type: 'response.content_part.done', ...where, part: this.#audio ? { type: 'audio', transcript: item.text } : { type: 'text', text: item.text } })
    }
    const done = {
      id: item.id,
      object: 'realtime.item',
      type: 'message',
      status: status === 'completed' ? 'completed' : 'incomplete',
      role: 'assistant',
      content: [this.#audio ? { type: 'output_audio', transcript: item.text } : { type: 'output_text', text: item.text }]
    }
    this.#finished(done, item.outputIndex)
  }

  #finished (item: Json, outputIndex: number): void {
    this.#output.push(item)
    this.#emit({ type: 'response.output_item.done', response_id: this.id, output_index: outputIndex, item })
    this.#emit({ type: 'conversation.item.done', previous_item_id: null, item })
  }

  /** A function call item, whole: Gemini and Nova send a call's arguments at once. */
  functionCall (callId: string, name: string, args: string): void {
    this.endMessage()
    const outputIndex = this.#items++
    const item: Json = { id: newId('item'), object: 'realtime.item', type: 'function_call', status: 'in_progress', name, call_id: callId, arguments: '' }
    this.#added(item, outputIndex)
    const where = { response_id: this.id, item_id: item.id, output_index: outputIndex, call_id: callId }
    this.#emit({ type: 'response.function_call_arguments.delta', ...where, delta: args })
    this.#emit({ type: 'response.function_call_arguments.done', ...where, name, arguments: args })
    this.#finished({ ...item, status: 'completed', arguments: args }, outputIndex)
  }

  /** response.done with the turn's usage (OpenAI's shape), or null when the provider reported none. */
  end (status: ResponseStatus, usage: Json | null): void {
    this.endMessage(status)
    const details = status === 'cancelled'
      ? { type: 'cancelled', reason: 'turn_detected' }
      : status === 'incomplete' ? { type: 'incomplete', reason: 'interruption' } : null
    this.#emit({ type: 'response.done', response: this.#response(status, usage, this.#output, details) })
  }
}
