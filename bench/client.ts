// The load client, in its own process: runs one scenario against one URL and prints a JSON result.
import WebSocket from 'ws'
import { pump } from './frames.js'

interface Task { scenario: string, url: string, rss?: string, upstreamCpu: string, proxy?: boolean, gemini?: boolean, sessions: number, seconds: number, direct?: string }
const task = JSON.parse(process.argv[2] as string) as Task
const headers = { authorization: 'Bearer bench' }
const AUDIO = 'A'.repeat(6400)
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function open (model: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${task.url}?model=${model}`, { headers, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 })
    ws.on('error', reject)
    ws.once('open', () => resolve(ws))
  })
}

/** A GPT-Live session (task.url is the live route): session.start naming `model`, resolved at session.started. */
function openLive (model: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(task.url, { headers, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 })
    ws.on('error', reject)
    ws.once('open', () => ws.send(JSON.stringify({ type: 'session.start', session: { model } })))
    ws.once('message', () => resolve(ws))
  })
}

async function openMany (n: number, model: string, how = open): Promise<WebSocket[]> {
  const sockets: WebSocket[] = []
  for (let i = 0; i < n; i += 50) sockets.push(...await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => how(model))))
  return sockets
}

async function usage (gc = false): Promise<{ rss: number, heapUsed: number, cpu: number }> {
  const res = await fetch(`${task.rss as string}${gc ? '?gc=1' : ''}`)
  return await res.json() as { rss: number, heapUsed: number, cpu: number }
}

const rss = async (): Promise<number> => (await usage()).rss

const cpuOf = async (url: string): Promise<number> => ((await (await fetch(url)).json()) as { cpu: number }).cpu
const ownCpu = (): number => {
  const { user, system } = process.cpuUsage()
  return user + system
}

/**
 * CPU microseconds spent over `window` by the proxy (undefined for a direct connection) and by the whole
 * machine: provider, proxy and this client. On a saturated machine, throughput is at most
 * cores / machine CPU per frame, whatever the proxy's own share.
 */
async function cpuOver (window: () => Promise<void>): Promise<{ proxy: number | undefined, machine: number }> {
  const proxyAt = async (): Promise<number> => task.proxy === true ? (await usage()).cpu : 0
  const before = { proxy: await proxyAt(), upstream: await cpuOf(task.upstreamCpu), client: ownCpu() }
  await window()
  const proxy = await proxyAt() - before.proxy
  const machine = proxy + (await cpuOf(task.upstreamCpu) - before.upstream) + (ownCpu() - before.client)
  return { proxy: task.proxy === true ? proxy : undefined, machine }
}

const perFrame = (us: number | undefined, frames: number): number | undefined => us === undefined ? undefined : us / frames

async function stream (how = open): Promise<object> {
  const sockets = await openMany(task.sessions, 'stream', how)
  let frames = 0
  let bytes = 0
  let counting = false
  for (const ws of sockets) ws.on('message', (data: Buffer) => { if (counting) { frames++; bytes += data.length } })
  await sleep(300)
  const cpu = await cpuOver(async () => {
    counting = true
    await sleep(task.seconds * 1000)
    counting = false
  })
  for (const ws of sockets) ws.terminate()
  return { framesPerSec: frames / task.seconds, mbPerSec: bytes / task.seconds / 1e6, cpuUsPerFrame: perFrame(cpu.proxy, frames), machineUsPerFrame: perFrame(cpu.machine, frames) }
}

async function append (): Promise<object> {
  const sockets = await openMany(task.sessions, 'sink')
  const acked = new Map<WebSocket, number>()
  const frame = Buffer.from(JSON.stringify({ type: 'input_audio_buffer.append', audio: AUDIO }))
  let running = true
  for (const ws of sockets) {
    ws.on('message', (data: Buffer) => acked.set(ws, JSON.parse(data.toString()).n))
    pump(ws, frame, 512 * 1024, () => running && ws.readyState === ws.OPEN)
  }
  await sleep(500)
  let start = 0
  let end = 0
  const cpu = await cpuOver(async () => {
    start = [...acked.values()].reduce((a, b) => a + b, 0)
    await sleep(task.seconds * 1000)
    end = [...acked.values()].reduce((a, b) => a + b, 0)
  })
  running = false
  for (const ws of sockets) ws.terminate()
  return { framesPerSec: (end - start) / task.seconds, cpuUsPerFrame: perFrame(cpu.proxy, end - start), machineUsPerFrame: perFrame(cpu.machine, end - start) }
}

async function latency (): Promise<object> {
  const sockets = await openMany(task.sessions, 'echo')
  const rtts: number[] = []
  let recording = false
  const pad = 'A'.repeat(1120)
  const now = (): number => Number(process.hrtime.bigint()) / 1e6
  // Through the Gemini codec the echo comes back translated (a response.output_audio.delta, no "t"): each
  // session's frames are answered in order, so a delta is timed against the oldest frame not yet answered.
  const sentAt = sockets.map((): number[] => [])
  sockets.forEach((ws, i) => {
    const queue = sentAt[i] as number[]
    ws.on('message', (data: Buffer) => {
      if (task.gemini === true) {
        if (!data.includes('output_audio.delta')) return
        const sent = queue.shift() as number
        if (recording) rtts.push(now() - sent)
        return
      }
      if (!recording) return
      const sent = Number(data.subarray(data.indexOf('"t":') + 4, data.indexOf(',"audio"')).toString())
      rtts.push(now() - sent)
    })
    if (task.gemini === true) ws.send('{"type":"session.update","session":{"type":"realtime","instructions":"echo"}}')
  })
  // every session sends a 1.2 KB frame every 20 ms, staggered
  const timers = sockets.map((ws, i) => setTimeout(() => {
    timers[i] = setInterval(() => {
      const t = now()
      if (task.gemini === true) (sentAt[i] as number[]).push(t)
      ws.send(`{"type":"input_audio_buffer.append","t":${t},"audio":"${pad}"}`)
    }, 20)
  }, (i * 20) / sockets.length))
  await sleep(1000)
  const { proxy } = await cpuOver(async () => {
    recording = true
    await sleep(task.seconds * 1000)
    recording = false
  })
  for (const t of timers) clearInterval(t)
  for (const ws of sockets) ws.terminate()
  rtts.sort((a, b) => a - b)
  const at = (q: number): number => rtts[Math.min(rtts.length - 1, Math.floor(q * rtts.length))] as number
  // Frames echoed back in the window (each a round trip through the proxy both ways), and the proxy's CPU per
  // second of one session's conversation.
  const seconds = task.sessions * task.seconds
  return { p50: at(0.5), p99: at(0.99), samples: rtts.length, framesPerSec: rtts.length / task.seconds, cpuUsPerSessionSecond: proxy === undefined ? undefined : proxy / seconds }
}

async function idleMemory (): Promise<object> {
  // Measured on a second thousand, the first still open: a fresh process commits memory on first use (V8
  // grows its young generation by megabytes), which would be charged to the sessions; and freed
  // sessions' memory would be reused. The second thousand's growth is what a session holds.
  const first = await openMany(task.sessions, 'idle')
  await sleep(1000)
  const before = await usage(true)
  const sockets = await openMany(task.sessions, 'idle')
  await sleep(1000)
  const after = await usage(true)
  for (const ws of [...first, ...sockets]) ws.terminate()
  return { bytesPerSession: (after.rss - before.rss) / task.sessions, heapPerSession: (after.heapUsed - before.heapUsed) / task.sessions }
}

async function stalled (): Promise<object> {
  const before = await rss()
  const ws = await open('stream')
  ;(ws as unknown as { _socket: { pause (): void } })._socket.pause()
  let peak = before
  const end = Date.now() + task.seconds * 1000
  while (Date.now() < end) {
    peak = Math.max(peak, await rss())
    await sleep(100)
  }
  ws.terminate()
  return { peakGrowthMB: (peak - before) / 1e6 }
}

async function handshake (): Promise<object> {
  let done = 0
  const end = Date.now() + task.seconds * 1000
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (Date.now() < end) {
      const ws = await open('idle')
      ws.close()
      await new Promise((resolve) => ws.once('close', resolve))
      done++
    }
  }))
  return { setupsPerSec: done / task.seconds }
}

/**
 * Capacity at voice pace: sessions are added 100 at a time, each sending a 20 ms audio frame (24 kHz PCM16,
 * 1,280 base64 characters) every 20 ms that the provider echoes, so frames flow both ways at speaking pace.
 * Each step measures the round trip's p99 through the proxy and, at the same time, over 20 direct probe
 * sessions, and the proxy's CPU. It stops when the added p99 passes 10 ms or the proxy uses 95% of a core
 * (or at task.sessions): the last step within both is the capacity.
 */
async function capacity (): Promise<object> {
  const pad = 'A'.repeat(1280)
  const frame = (): string => `{"type":"input_audio_buffer.append","t":${Number(process.hrtime.bigint()) / 1e6},"audio":"${pad}"}`
  const proxied: number[] = []
  const direct: number[] = []
  let recording = false
  const record = (into: number[]) => (data: Buffer): void => {
    if (!recording) return
    into.push(Number(process.hrtime.bigint()) / 1e6 - Number(data.subarray(data.indexOf('"t":') + 4, data.indexOf(',"audio"')).toString()))
  }
  const openDirect = (): Promise<WebSocket> => new Promise((resolve, reject) => {
    const ws = new WebSocket(`${task.direct as string}?model=echo`, { perMessageDeflate: false })
    ws.on('error', reject)
    ws.once('open', () => resolve(ws))
  })
  const probes = await Promise.all(Array.from({ length: 20 }, openDirect))
  for (const ws of probes) ws.on('message', record(direct))
  const sockets: WebSocket[] = []
  // Four groups, 5 ms apart, so the load is spread over each 20 ms like independent callers.
  let group = 0
  const tick = setInterval(() => {
    const all = [...probes, ...sockets]
    for (let i = group; i < all.length; i += 4) (all[i] as WebSocket).send(frame())
    group = (group + 1) % 4
  }, 5)
  const p99 = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.99)] ?? 0
  let best = { sessions: 0, cores: 0, addedP99: 0 }
  const steps: object[] = []
  while (sockets.length < task.sessions) {
    const added = await openMany(100, 'echo')
    for (const ws of added) ws.on('message', record(proxied))
    sockets.push(...added)
    await sleep(500)
    proxied.length = 0
    direct.length = 0
    const before = (await usage()).cpu
    recording = true
    await sleep(task.seconds * 1000)
    recording = false
    const cores = ((await usage()).cpu - before) / (task.seconds * 1e6)
    const addedP99 = p99(proxied) - p99(direct)
    steps.push({ sessions: sockets.length, cores, addedP99 })
    if (addedP99 > 10 || cores >= 0.95) break
    best = { sessions: sockets.length, cores, addedP99 }
  }
  clearInterval(tick)
  for (const ws of [...probes, ...sockets]) ws.terminate()
  process.stderr.write(`capacity steps: ${JSON.stringify(steps)}\n`)
  // Below saturation the proxy's share of a core grows with its sessions: sessions per core extrapolates it.
  return { sessions: best.sessions, cores: best.cores, addedP99: best.addedP99, sessionsPerCore: best.cores > 0 ? best.sessions / best.cores : 0 }
}

/** GPT-Live set-ups: upgrade, session.start, routed (by the first frame, through the plugin), session.started. */
async function liveStart (): Promise<object> {
  const times: number[] = []
  const end = Date.now() + task.seconds * 1000
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (Date.now() < end) {
      const at = performance.now()
      const ws = await openLive('idle')
      times.push(performance.now() - at)
      ws.close()
      await new Promise((resolve) => ws.once('close', resolve))
    }
  }))
  times.sort((a, b) => a - b)
  return { setupsPerSec: times.length / task.seconds, startMs: times[Math.floor(times.length / 2)] }
}

const scenarios: Record<string, () => Promise<object>> = { stream, append, latency, idleMemory, stalled, handshake, liveStream: async () => await stream(openLive), liveStart, capacity }
const result = await (scenarios[task.scenario] as () => Promise<object>)()
process.stdout.write(JSON.stringify(result))
process.exit(0)
