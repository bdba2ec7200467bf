// The conversation as an OpenAI client sees it through a codec: its items in order (each event names the one
// before), the user's input item under way (its audio, its transcript), and the function calls waiting for their
// output. Neither Gemini nor Nova keeps items of its own: these are the codec's.
import type { Json } from '../../json.js'
import { newId } from '../../protocols/realtime.js'

/** Where the conversation's events go: the client, now or as the answer to its frame. */
export type Send = (event: Json) => void

interface InputItem {
  id: string
  transcript: string
  announced: boolean
}

export class Conversation {
  /** The last item added: what the next one follows. */
  lastItemId: string | null = null
  /** Function calls waiting for their output: call id -> function name. */
  readonly calls = new Map<string, string>()
  /** The user's input item: audio sent since the last one began, with its transcript so far. */
  #input: InputItem | undefined

  /** Whether user input has come since the last turn, not yet committed. */
  get inputPending (): boolean {
    return this.#input !== undefined && !this.#input.announced
  }

  /** The user's input item under way, made when its first sign (audio, a transcript, voice activity) comes. */
  inputItem (): InputItem {
    return (this.#input ??= { id: newId('item'), transcript: '', announced: false })
  }

  /** The user's audio turn as OpenAI shows it: committed, and an item in the conversation. */
  announceInput (send: Send): void {
    const input = this.#input
    if (input === undefined || input.announced) return
    input.announced = true
    send({ type: 'input_audio_buffer.committed', previous_item_id: this.lastItemId, item_id: input.id })
    this.added(send, { id: input.id, type: 'message', role: 'user', content: [{ type: 'input_audio', transcript: null }] })
  }

  /** An item in the conversation, as the client gave it (its id, else one of ours) and as complete. */
  added (send: Send, given: Json): void {
    const item = { ...given, id: typeof given.id === 'string' ? given.id : newId('item'), object: 'realtime.item', status: 'completed' }
    send({ type: 'conversation.item.added', previous_item_id: this.lastItemId, item })
    send({ type: 'conversation.item.done', previous_item_id: this.lastItemId, item })
    this.lastItemId = item.id
  }

  /** The model's turn ended: an announced input item is done, with its transcript when the session transcribes. */
  endInput (send: Send, transcribed: boolean): void {
    const input = this.#input
    if (input?.announced !== true) return
    if (transcribed) send({ type: 'conversation.item.input_audio_transcription.completed', item_id: input.id, content_index: 0, transcript: input.transcript })
    this.#input = undefined
  }
}
