// Realtime sessions for users holding a JWT your app issued. Browsers send it as the subprotocol
// "openai-insecure-api-key.<jwt>" (the OpenAI SDK's browser client does this), servers as a Bearer header;
// either way it arrives as request.realtime.credential and is verified before anything is dialed.
//   JWT_SECRET=... OPENAI_API_KEY=... node --import tsx examples/jwt-auth.ts
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import realtimeProxy, { type RealtimeProxyOptions } from '../lib/index.js'

export async function buildApp (secret: string, providers: RealtimeProxyOptions['providers'], logger = true): Promise<FastifyInstance> {
  const app = Fastify({ logger })
  await app.register(fastifyJwt, { secret })
  await app.register(realtimeProxy, {
    providers,
    allowedOrigins: ['https://app.example.com', 'http://localhost:3000'],
    maxSessionsPerKey: 2, // per user (the key is the token; use sessionKey for the user id)
    sessionKey: (request) => (request.user as { sub?: string } | undefined)?.sub,
    onRequest: async (request, reply) => {
      const token = request.realtime.credential
      if (token === undefined) return reply.code(401).send({ error: 'missing token' })
      try {
        request.user = app.jwt.verify(token)
      } catch {
        return reply.code(401).send({ error: 'invalid token' })
      }
    }
  })
  return app
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const secret = process.env.JWT_SECRET ?? 'change-me'
  const app = await buildApp(secret, { openai: { apiKey: process.env.OPENAI_API_KEY } })
  await app.listen({ port: Number(process.env.PORT ?? 3000) })
  app.log.info(`try a token: ${app.jwt.sign({ sub: 'user-1' }, { expiresIn: '1h' })}`)
}
