// OpenAI's realtime translation sessions (`/v1/realtime/translations?model=`): routed by the upgrade request
// like realtime, errors in realtime's envelope. The provider reports no usage: a translation session is
// billed by the seconds of input audio the client sent (24 kHz PCM16 on a websocket), measured by the session.
import { errorEvent } from './realtime.js'
import type { Protocol } from './types.js'

export const translation: Protocol = {
  name: 'translation',
  routing: 'request',
  readUsage: () => undefined,
  errorEvent,
  meterInputAudio: () => true
}
