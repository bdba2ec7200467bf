// The embedded simulator (fastify-realtime-proxy/simulator): OpenAI's schema, no key. An entry without a
// baseURL gets one started by the plugin and closed with the app; with a baseURL, a simulator running elsewhere.
import { openaiCompatible } from './openai-compatible.js'
import type { ProviderModule } from './types.js'

export const simulator: ProviderModule = {
  ...openaiCompatible,
  keyless: true,
  async embedded () {
    const { RealtimeSimulator } = await import('../simulator/index.js')
    return await RealtimeSimulator.start()
  }
}
