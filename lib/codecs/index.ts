// The codecs by schema: a provider module names its schema (`codec.schema`), and its sessions are translated by
// the codec registered here. Adding a codec is its folder and one line below.
import type { CodecSettings } from '../providers/types.js'
import type { Resolution } from '../providers/registry.js'
import { gemini } from './gemini/index.js'
import type { Codec } from './types.js'

export type { Codec, LegInit } from './types.js'

const CODECS: Readonly<Record<CodecSettings['schema'], Codec>> = {
  gemini
}

/** The codec a target's provider speaks through; undefined for OpenAI's schema, relayed as is. */
export function codecOf (resolution: Resolution): Codec | undefined {
  const { codec } = resolution.provider
  return codec === undefined ? undefined : CODECS[codec.schema]
}

/**
 * Readies the codecs any of `order`'s targets speak through, before one is dialled; undefined when none does, so
 * a handshake to OpenAI's schema waits for nothing.
 */
export function prepareCodecs (order: readonly Resolution[]): Promise<unknown> | undefined {
  let ready: Array<Promise<void>> | undefined
  for (const resolution of order) {
    const codec = codecOf(resolution)
    if (codec !== undefined) (ready ??= []).push(codec.prepare())
  }
  return ready === undefined ? undefined : Promise.all(ready)
}
