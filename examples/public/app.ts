// The voice demo: microphone -> PCM16 24 kHz -> input_audio_buffer.append through the proxy; the answer's
// output_audio.delta chunks are scheduled back to back so playback has no gaps. A GPT-Live choice speaks the
// same audio over /v1/live/sessions: session.start first (its model names the provider), then
// session.input_audio.append; billed by the session's seconds.
interface DemoModel { provider: string, model: string, label: string, protocol?: 'live' }
interface Price { input?: { text?: number, audio?: number, cached?: number }, output?: { text?: number, audio?: number }, transcription?: { perSecond?: number }, perMinute?: number }
interface Usage { input_tokens?: number, output_tokens?: number, input_token_details?: { text_tokens?: number, audio_tokens?: number, cached_tokens?: number }, output_token_details?: { text_tokens?: number, audio_tokens?: number } }
interface ServerEvent { type: string, [key: string]: any }

const RATE = 24000
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const ui = {
  model: $<HTMLSelectElement>('model'),
  token: $<HTMLInputElement>('token'),
  connect: $<HTMLButtonElement>('connect'),
  mic: $<HTMLInputElement>('mic'),
  sample: $<HTMLButtonElement>('sample'),
  status: $('status'),
  transcript: $('transcript'),
  level: $('level'),
  closed: $('closed')
}
const totals = { responses: 0, input: 0, output: 0, sent: 0, played: 0, seconds: 0, cost: 0 }
// Exposed for the end-to-end test.
;(window as unknown as { demo: typeof totals }).demo = totals

let pricing: Record<string, Price> = {}
let ws: WebSocket | undefined
let live = false
let context: AudioContext | undefined
let stream: MediaStream | undefined
let playhead = 0
let playing: AudioBufferSourceNode[] = []
let assistantLine: HTMLElement | undefined

function show (): void {
  $('responses').textContent = String(totals.responses)
  $('input-tokens').textContent = String(totals.input)
  $('output-tokens').textContent = String(totals.output)
  $('sent').textContent = `${totals.sent.toFixed(1)} s`
  $('played').textContent = `${totals.played.toFixed(1)} s`
  $('seconds').textContent = `${totals.seconds.toFixed(1)} s`
  $('cost').textContent = `$${totals.cost.toFixed(6)}`
}

function line (role: 'user' | 'assistant', text: string): HTMLElement {
  const div = document.createElement('div')
  div.className = `turn ${role}`
  div.dataset.role = role
  div.innerHTML = `<b>${role === 'user' ? 'you' : 'assistant'}:</b> <span></span>`
  ;(div.querySelector('span') as HTMLElement).textContent = text
  ui.transcript.append(div)
  ui.transcript.scrollTop = ui.transcript.scrollHeight
  return div
}

function toBase64 (buffer: ArrayBuffer): string {
  let binary = ''
  const bytes = new Uint8Array(buffer)
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(binary)
}

function play (base64: string): void {
  if (context === undefined) return
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))
  const pcm = new Int16Array(bytes.buffer, 0, bytes.length >> 1)
  const buffer = context.createBuffer(1, pcm.length, RATE)
  const channel = buffer.getChannelData(0)
  for (let i = 0; i < pcm.length; i++) channel[i] = (pcm[i] as number) / 0x8000
  const source = context.createBufferSource()
  source.buffer = buffer
  source.connect(context.destination)
  playhead = Math.max(playhead, context.currentTime + 0.02)
  source.start(playhead)
  playhead += buffer.duration
  totals.played += buffer.duration
  playing.push(source)
  source.onended = () => { playing = playing.filter((s) => s !== source) }
}

function interrupt (): void {
  for (const source of playing) source.stop()
  playing = []
  playhead = 0
}

function cost (usage: Usage, price: Price | undefined): number {
  if (price === undefined) return 0
  const inp = usage.input_token_details ?? {}
  const out = usage.output_token_details ?? {}
  const cached = inp.cached_tokens ?? 0
  return ((inp.text_tokens ?? 0) * (price.input?.text ?? 0) + (inp.audio_tokens ?? 0) * (price.input?.audio ?? 0) +
    cached * ((price.input?.cached ?? 0) - (price.input?.text ?? 0)) +
    (out.text_tokens ?? 0) * (price.output?.text ?? 0) + (out.audio_tokens ?? 0) * (price.output?.audio ?? 0)) / 1e6
}

function onEvent (event: ServerEvent, price: Price | undefined): void {
  switch (event.type) {
    case 'input_audio_buffer.speech_started': interrupt(); break
    case 'conversation.item.input_audio_transcription.completed':
      line('user', event.transcript)
      if (event.usage?.type === 'duration') totals.cost += event.usage.seconds * (price?.transcription?.perSecond ?? 0)
      break
    case 'response.created': assistantLine = undefined; break
    case 'response.output_audio.delta': play(event.delta); break
    case 'response.output_audio_transcript.delta':
    case 'response.output_text.delta':
      assistantLine ??= line('assistant', '')
      ;(assistantLine.querySelector('span') as HTMLElement).textContent += event.delta
      break
    case 'response.done':
      if (event.response?.usage !== undefined && event.response.usage !== null) {
        totals.responses++
        totals.input += event.response.usage.input_tokens ?? 0
        totals.output += event.response.usage.output_tokens ?? 0
        totals.cost += cost(event.response.usage, price)
      }
      break
    case 'error': line('assistant', `[error] ${event.error?.message ?? ''}`); break
  }
  show()
}

/** GPT-Live's events: transcripts both ways, audio out, and the session's cumulative seconds (billed per minute). */
function onLiveEvent (event: ServerEvent, price: Price | undefined): void {
  switch (event.type) {
    case 'session.input_transcript.delta':
      line('user', event.delta)
      assistantLine = undefined
      break
    case 'session.output_audio.delta': play(event.delta); break
    case 'session.output_transcript.delta':
      if (assistantLine === undefined) {
        assistantLine = line('assistant', '')
        totals.responses++
      }
      ;(assistantLine.querySelector('span') as HTMLElement).textContent += event.delta
      break
    case 'session.usage.updated':
    case 'session.closed':
      if (typeof event.usage?.seconds === 'number') {
        totals.seconds = event.usage.seconds
        totals.cost = event.usage.seconds / 60 * (price?.perMinute ?? 0)
      }
      break
    case 'error': line('assistant', `[error] ${event.error?.message ?? ''}`); break
  }
  show()
}

/** One chunk of PCM16 audio to the server; the counter moves as audio is sent, not only when the server speaks. */
function send (socket: WebSocket, pcm: ArrayBuffer): void {
  socket.send(JSON.stringify({ type: live ? 'session.input_audio.append' : 'input_audio_buffer.append', audio: toBase64(pcm) }))
  totals.sent += pcm.byteLength / 2 / RATE
  show()
}

/** Streams the bundled spoken sentence (PCM16 24 kHz mono) at speaking pace, then silence, so server VAD ends the turn. */
async function speakSample (): Promise<void> {
  const socket = ws
  if (socket === undefined) return
  ui.sample.disabled = true
  const speech = await (await fetch('/sample.pcm')).arrayBuffer()
  const audio = new Uint8Array(speech.byteLength + RATE * 2 * 1.2) // 1.2 s of silence after it
  audio.set(new Uint8Array(speech))
  const chunk = RATE * 2 / 10 // 100 ms
  for (let at = 0; at < audio.length && socket.readyState === WebSocket.OPEN; at += chunk) {
    send(socket, audio.slice(at, at + chunk).buffer)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  ui.sample.disabled = ws !== socket
}

async function connect (): Promise<void> {
  const choice = JSON.parse(ui.model.value) as DemoModel
  const price = pricing[`${choice.provider}/${choice.model}`] ?? pricing[choice.model]
  ui.closed.textContent = ''
  ui.status.textContent = 'connecting'
  context = new AudioContext({ sampleRate: RATE })
  await context.audioWorklet.addModule('/worklet.js')
  // Without a microphone (a headless browser's fake one never pauses, so server VAD never ends a turn), the
  // sample button speaks instead.
  if (ui.mic.checked) stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } })
  live = choice.protocol === 'live'
  const model = `${choice.provider}/${choice.model}`
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws'
  // GPT-Live names its model in its first frame, not in the URL.
  const url = live ? `${scheme}://${location.host}/v1/live/sessions` : `${scheme}://${location.host}/v1/realtime?model=${encodeURIComponent(model)}`
  // Browsers cannot set headers: the token travels as a subprotocol and the server answers "realtime".
  const socket = new WebSocket(url, ['realtime', `openai-insecure-api-key.${ui.token.value}`])
  ws = socket
  const instructions = 'You are a friendly voice assistant. Keep answers short.'
  socket.onopen = () => {
    ui.status.textContent = 'connected'
    ui.connect.textContent = 'Disconnect'
    ui.connect.classList.add('stop')
    socket.send(JSON.stringify(live
      ? { type: 'session.start', session: { model, instructions } }
      : { type: 'session.update', session: { type: 'realtime', instructions, audio: { input: { transcription: { model: 'gpt-4o-transcribe' }, turn_detection: { type: 'server_vad' } } } } }))
    ui.sample.disabled = false
    if (stream === undefined) return
    const source = (context as AudioContext).createMediaStreamSource(stream as MediaStream)
    const capture = new AudioWorkletNode(context as AudioContext, 'pcm-capture')
    const analyser = (context as AudioContext).createAnalyser()
    source.connect(capture)
    source.connect(analyser)
    const samples = new Float32Array(analyser.fftSize)
    capture.port.onmessage = (message: MessageEvent<ArrayBuffer>) => {
      if (socket.readyState !== WebSocket.OPEN) return
      send(socket, message.data)
      analyser.getFloatTimeDomainData(samples)
      ui.level.style.width = `${Math.min(100, Math.sqrt(samples.reduce((s, v) => s + v * v, 0) / samples.length) * 400)}%`
    }
  }
  socket.onmessage = (message: MessageEvent<string>) => (live ? onLiveEvent : onEvent)(JSON.parse(message.data) as ServerEvent, price)
  socket.onclose = (close) => {
    ui.closed.textContent = `closed: ${close.code}${close.reason === '' ? '' : ` ${close.reason}`}`
    disconnect()
  }
}

function disconnect (): void {
  // GPT-Live: session.close asks for the final usage (session.closed); the server then closes the socket.
  if (ws !== undefined && ws.readyState === WebSocket.OPEN && live) {
    const leaving = ws
    leaving.send('{"type":"session.close"}')
    setTimeout(() => leaving.close(1000, 'user hung up'), 5000) // in case the server never closes
  } else if (ws !== undefined && ws.readyState <= WebSocket.OPEN) ws.close(1000, 'user hung up')
  ws = undefined
  stream?.getTracks().forEach((track) => track.stop())
  stream = undefined
  ui.sample.disabled = true
  context?.close().catch(() => {})
  context = undefined
  interrupt()
  ui.status.textContent = 'disconnected'
  ui.connect.textContent = 'Connect'
  ui.connect.classList.remove('stop')
}

ui.connect.onclick = () => {
  if (ws === undefined) {
    connect().catch((err: Error) => {
      ui.closed.textContent = `could not connect: ${err.message}`
      disconnect()
    })
  } else disconnect()
}

ui.sample.onclick = () => { speakSample().catch((err: Error) => line('assistant', `[sample] ${err.message}`)) }

ui.token.value = new URLSearchParams(location.hash.slice(1)).get('token') ?? ''
const config = await (await fetch('/config')).json() as { models: DemoModel[], pricing: Record<string, Price> }
pricing = config.pricing
for (const m of config.models) {
  const option = document.createElement('option')
  option.value = JSON.stringify(m)
  option.textContent = `${m.label} · ${m.model}`
  ui.model.append(option)
}

export {}
