// What a signaling request carries: the SDP offer and session of a call (application/sdp or multipart), the
// model a session names, and the call id in the provider's answer.
import type { FastifyRequest } from 'fastify'
import { FormData, Response } from 'undici'
import { BadBodyError, UnsupportedMediaTypeError } from '../errors.js'
import { isObject, type Json } from '../json.js'
import { NAME } from '../validate.js'

export const CALL_ID = /^[\w-]{1,128}$/

/** The object that holds the session's model: the session, or for transcription its nested input model. */
export function modelHolder (session: Json | undefined): Json | undefined {
  if (session?.type !== 'transcription') return session
  const audio = session.audio as Json | undefined
  const input = isObject(audio) ? audio.input : undefined
  const transcription = isObject(input) ? input.transcription : undefined
  return isObject(transcription) ? transcription : undefined
}

export function modelOf (holder: Json | undefined, where: string): string | undefined {
  const model = holder?.model
  if (model !== undefined && typeof model !== 'string') throw new BadBodyError(`"${where}" must be a string`)
  if (model !== undefined && !NAME.pattern.test(model)) throw new BadBodyError(`"${where}" must be ${NAME.rule}`)
  return model
}

/**
 * The model a target is sent: the app's own when its onSession (or onClientEvent) changed the one it was shown
 * (the app pins it, and what it returns is what is sent), else the target's own name for the model.
 */
export function sentModel (decided: unknown, shown: string | undefined, target: string | undefined): string | undefined {
  return typeof decided === 'string' && decided !== shown ? decided : target
}

/** The call id at the end of the provider's Location (`/v1/realtime/calls/rtc_...`). */
export function callIdFrom (location: string | string[] | undefined): string | undefined {
  if (typeof location !== 'string') return undefined
  const id = new URL(location, 'http://provider').pathname.split('/').pop()
  return id !== undefined && CALL_ID.test(id) ? id : undefined
}

async function partText (form: globalThis.FormData | FormData, name: string): Promise<string | undefined> {
  const part = form.get(name)
  return part === null ? undefined : typeof part === 'string' ? part : await part.text()
}

/** The SDP offer and optional session from `application/sdp` or `multipart/form-data` (`sdp`, `session` parts). */
export async function readOffer (request: FastifyRequest): Promise<{ sdp: string, session?: Json }> {
  const header = String(request.headers['content-type'])
  const type = header.toLowerCase() // for matching only: the multipart boundary is case-sensitive
  let sdp: string | undefined
  let session: Json | undefined
  if (type.startsWith('application/sdp')) {
    sdp = request.body as string
  } else if (type.startsWith('multipart/form-data')) {
    let form
    try {
      form = await new Response(request.body as Buffer, { headers: { 'content-type': header } }).formData()
    } catch {
      throw new BadBodyError('the multipart body could not be parsed')
    }
    sdp = await partText(form, 'sdp')
    const text = await partText(form, 'session')
    if (text !== undefined) {
      try {
        session = JSON.parse(text) as Json
      } catch {}
      if (!isObject(session)) throw new BadBodyError('the "session" part must be a JSON object')
    }
  } else {
    throw new UnsupportedMediaTypeError()
  }
  if (sdp === undefined || !sdp.startsWith('v=')) throw new BadBodyError('the SDP offer is missing or does not start with "v="')
  return { sdp, session }
}
