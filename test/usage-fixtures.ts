// A response.done with every usage detail OpenAI reports: 1000 input (200 text, 790 audio, 10 image; 300 cached:
// 100 text, 200 audio), 500 output (100 text, 400 audio).
export const OPENAI_DONE = {
  type: 'response.done',
  event_id: 'ev_9',
  response: {
    id: 'resp_1',
    status: 'completed',
    usage: {
      total_tokens: 1500,
      input_tokens: 1000,
      output_tokens: 500,
      input_token_details: { text_tokens: 200, audio_tokens: 790, image_tokens: 10, cached_tokens: 300, cached_tokens_details: { text_tokens: 100, audio_tokens: 200 } },
      output_token_details: { text_tokens: 100, audio_tokens: 400 }
    }
  }
}
