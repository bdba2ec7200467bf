// Z.ai (api.z.ai) and Zhipu BigModel (open.bigmodel.cn) GLM realtime. The path is fixed from the host so the
// Coding Plan base (/api/coding/paas/v4) still reaches /api/paas/v4/realtime.
import { bearerProvider } from './types.js'

export const zai = bearerProvider('https://api.z.ai/api/paas/v4', '/api/paas/v4/realtime', false)
