// xAI voice agent API: OpenAI GA-style events at wss://api.x.ai/v1/realtime?model=M, billed per minute.
// Browsers send its ephemeral token as the `xai-client-secret.` subprotocol.
// Ephemeral tokens at /v1/realtime/client_secrets take only expires_after.seconds (no session, no anchor).
import { bearerProvider, type ProviderModule } from './types.js'

export const xai: ProviderModule = {
  ...bearerProvider('https://api.x.ai/v1', '/realtime', true, ['client_secrets']),
  billing: 'duration', // about $0.05 per minute of session
  credentialProtocols: ['xai-client-secret.'],
  keyPrefixes: ['xai'],
  clientSecretBody (body) {
    const seconds = (body.expires_after as { seconds?: unknown } | undefined)?.seconds
    return seconds === undefined ? {} : { expires_after: { seconds } }
  }
}
