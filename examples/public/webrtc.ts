// WebRTC through the plugin's signaling routes: the SDP offer goes to POST /v1/realtime/calls with the app's
// token (never a provider key), the answer comes back, and audio and events flow to the provider directly.
// The server meters the call on its sideband. "Mint" shows the client-secret route (the simulator answers it).

export {} // a module: top-level await, and names that do not clash with window globals

interface DemoModel { provider: string, model: string, label: string }

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T
const select = $<HTMLSelectElement>('model')
const tokenInput = $<HTMLInputElement>('token')
const callButton = $<HTMLButtonElement>('call')
const status = $<HTMLSpanElement>('status')
const log = $<HTMLDivElement>('log')
const speaker = $<HTMLAudioElement>('speaker')

tokenInput.value = new URLSearchParams(location.hash.slice(1)).get('token') ?? ''

function print (line: string): void {
  log.textContent += `${new Date().toLocaleTimeString()}  ${line}\n`
  log.scrollTop = log.scrollHeight
}

const headers = (type: string): Record<string, string> => ({ 'content-type': type, authorization: `Bearer ${tokenInput.value}` })

let hangup: (() => Promise<void>) | undefined

async function call (model: string): Promise<void> {
  const pc = new RTCPeerConnection()
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true })
  for (const track of mic.getTracks()) pc.addTrack(track, mic)
  pc.ontrack = (event) => { speaker.srcObject = event.streams[0] ?? null }
  const events = pc.createDataChannel('oai-events')
  events.onmessage = (message) => {
    const event = JSON.parse(String(message.data)) as { type: string, transcript?: string, response?: { usage?: { total_tokens?: number } } }
    if (event.type === 'response.output_audio_transcript.done') print(`assistant: ${event.transcript ?? ''}`)
    else if (event.type === 'conversation.item.input_audio_transcription.completed') print(`you: ${event.transcript ?? ''}`)
    else if (event.type === 'response.done') print(`response.done: ${event.response?.usage?.total_tokens ?? 0} tokens (metered by the server too)`)
    else if (event.type === 'session.created' || event.type === 'error') print(`${event.type}: ${JSON.stringify(event).slice(0, 200)}`)
  }
  await pc.setLocalDescription(await pc.createOffer())
  const res = await fetch(`/v1/realtime/calls?model=${encodeURIComponent(model)}`, { method: 'POST', headers: headers('application/sdp'), body: pc.localDescription?.sdp })
  if (!res.ok) {
    pc.close()
    for (const track of mic.getTracks()) track.stop()
    throw new Error(`${res.status}: ${await res.text()}`)
  }
  const location = res.headers.get('location') as string
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() })
  print(`call created: ${location}`)
  hangup = async () => {
    hangup = undefined
    await fetch(`${location}/hangup`, { method: 'POST', headers: headers('application/json'), body: '{}' }).catch(() => {})
    pc.close()
    for (const track of mic.getTracks()) track.stop()
  }
  pc.onconnectionstatechange = () => { status.textContent = pc.connectionState }
}

callButton.onclick = async () => {
  if (hangup !== undefined) {
    await hangup()
    callButton.textContent = 'Call'
    callButton.className = ''
    status.textContent = 'idle'
    return
  }
  status.textContent = 'calling'
  try {
    await call(select.value)
    callButton.textContent = 'Hang up'
    callButton.className = 'stop'
  } catch (err) {
    status.textContent = 'failed'
    print(`call failed: ${(err as Error).message}`)
  }
}

$<HTMLButtonElement>('mint').onclick = async () => {
  const res = await fetch('/v1/realtime/client_secrets', {
    method: 'POST',
    headers: headers('application/json'),
    body: JSON.stringify({ session: { type: 'realtime', model: select.value } })
  })
  const body = await res.json() as { value?: string, expires_at?: number }
  // The key itself stays out of the page log: anyone holding it can open a session until it expires.
  print(res.ok
    ? `client secret ${body.value?.slice(0, 6) ?? ''}... expires at ${new Date((body.expires_at ?? 0) * 1000).toLocaleTimeString()}`
    : `client secret refused: ${res.status} ${JSON.stringify(body)}`)
}

const config = await (await fetch('/config')).json() as { models: DemoModel[] }
for (const m of config.models) select.add(new Option(`${m.label}: ${m.model}`, `${m.provider}/${m.model}`))
if (!config.models.some((m) => m.provider === 'openai')) {
  print('No OPENAI_API_KEY on the server: calls go to the simulator, which has no WebRTC and answers 501. Minting a client secret works on it.')
}
