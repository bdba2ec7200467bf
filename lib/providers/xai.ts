// xAI voice agent API: OpenAI GA-style events at wss://api.x.ai/v1/realtime?model=M, billed per minute.
import { bearerProvider } from './types.js'

export const xai = bearerProvider('https://api.x.ai/v1', '/realtime', true)
