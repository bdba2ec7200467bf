// Alibaba Model Studio (DashScope) Qwen-Omni realtime. Only scheme and host come from the base, because the
// base users already have is the chat one (/compatible-mode/v1); the realtime path is fixed.
import { bearerProvider } from './types.js'

export const bailian = bearerProvider('https://dashscope.aliyuncs.com', '/api-ws/v1/realtime', false)
