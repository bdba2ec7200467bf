// The frame the benchmark streams: 100 ms of 24 kHz PCM16 audio, base64, in an OpenAI output_audio.delta.
export const DELTA = JSON.stringify({ type: 'response.output_audio.delta', event_id: 'event_0', response_id: 'resp_0', item_id: 'item_0', output_index: 0, content_index: 0, delta: 'A'.repeat(6400) })
