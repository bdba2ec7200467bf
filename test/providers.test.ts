// Table-driven URL and header derivation for every provider type and rule (pure: no sockets).
import t from 'tap'
import { ProviderRegistry, type ProviderConfig, type RouteQuery } from '../lib/index.js'

interface Row {
  name: string
  providers: Record<string, ProviderConfig>
  query: RouteQuery
  url: string
  headers: Record<string, string>
}

const rows: Row[] = [
  { name: 'openai default base', providers: { openai: { apiKey: 'sk-1' } }, query: { model: 'gpt-realtime' }, url: 'wss://api.openai.com/v1/realtime?model=gpt-realtime', headers: { authorization: 'Bearer sk-1' } },
  { name: 'openai transcription without model', providers: { openai: { apiKey: 'sk-1' } }, query: { intent: 'transcription' }, url: 'wss://api.openai.com/v1/realtime?intent=transcription', headers: { authorization: 'Bearer sk-1' } },
  { name: 'openai transcription with a model dials the intent alone (OpenAI refuses a model there)', providers: { openai: { apiKey: 'sk-1' } }, query: { intent: 'transcription', model: 'gpt-4o-transcribe' }, url: 'wss://api.openai.com/v1/realtime?intent=transcription', headers: { authorization: 'Bearer sk-1' } },
  { name: 'openai sideband names only the call', providers: { openai: { apiKey: 'sk-1' } }, query: { callId: 'rtc_abc123', model: 'gpt-realtime' }, url: 'wss://api.openai.com/v1/realtime?call_id=rtc_abc123', headers: { authorization: 'Bearer sk-1' } },
  { name: 'openai http base maps to ws, trailing slash trimmed', providers: { openai: { baseURL: 'http://127.0.0.1:9000/v1/' } }, query: { model: 'm' }, url: 'ws://127.0.0.1:9000/v1/realtime?model=m', headers: {} },
  { name: 'openai wss base kept', providers: { openai: { baseURL: 'wss://gw.example.com/openai/v1' } }, query: { model: 'm' }, url: 'wss://gw.example.com/openai/v1/realtime?model=m', headers: {} },
  { name: 'model is URL-encoded, cannot inject a parameter', providers: { openai: { apiKey: 'k-1' } }, query: { model: 'x&api-key=y#z' }, url: 'wss://api.openai.com/v1/realtime?model=x%26api-key%3Dy%23z', headers: { authorization: 'Bearer k-1' } },
  { name: 'provider headers added, credentials win', providers: { openai: { apiKey: 'sk-1', headers: { 'OpenAI-Organization': 'org_1', Authorization: 'Bearer wrong' } } }, query: { model: 'm' }, url: 'wss://api.openai.com/v1/realtime?model=m', headers: { 'openai-organization': 'org_1', authorization: 'Bearer sk-1' } },
  { name: 'azure GA from resource root', providers: { azure: { apiKey: 'az-1', baseURL: 'https://res.openai.azure.com' } }, query: { model: 'my-deploy' }, url: 'wss://res.openai.azure.com/openai/v1/realtime?model=my-deploy', headers: { 'api-key': 'az-1' } },
  { name: 'azure GA from /openai', providers: { azure: { apiKey: 'az-1', baseURL: 'https://res.openai.azure.com/openai/' } }, query: { model: 'd' }, url: 'wss://res.openai.azure.com/openai/v1/realtime?model=d', headers: { 'api-key': 'az-1' } },
  { name: 'azure GA from /openai/v1', providers: { azure: { apiKey: 'az-1', baseURL: 'https://res.cognitiveservices.azure.com/openai/v1' } }, query: { model: 'd' }, url: 'wss://res.cognitiveservices.azure.com/openai/v1/realtime?model=d', headers: { 'api-key': 'az-1' } },
  { name: 'azure GA from a deployment URL', providers: { azure: { apiKey: 'az-1', baseURL: 'https://res.openai.azure.com/openai/deployments/gpt-4o' } }, query: { model: 'd' }, url: 'wss://res.openai.azure.com/openai/v1/realtime?model=d', headers: { 'api-key': 'az-1' } },
  { name: 'azure behind a gateway prefix', providers: { azure: { baseURL: 'https://apim.example.com/team/openai' } }, query: { model: 'd' }, url: 'wss://apim.example.com/team/openai/v1/realtime?model=d', headers: {} },
  { name: 'azure preview only with apiVersion', providers: { azure: { apiKey: 'az-1', baseURL: 'https://res.openai.azure.com/openai/v1', apiVersion: '2025-04-01-preview' } }, query: { model: 'd' }, url: 'wss://res.openai.azure.com/openai/realtime?api-version=2025-04-01-preview&deployment=d', headers: { 'api-key': 'az-1' } },
  { name: 'azure sideband attach uses the GA surface even with apiVersion', providers: { azure: { apiKey: 'az-1', baseURL: 'https://res.openai.azure.com', apiVersion: '2025-04-01-preview' } }, query: { callId: 'rtc_3', model: 'gpt-realtime' }, url: 'wss://res.openai.azure.com/openai/v1/realtime?call_id=rtc_3', headers: { 'api-key': 'az-1' } },
  { name: 'azure preview sideband attach needs no model', providers: { azure: { apiKey: 'az-1', baseURL: 'https://res.openai.azure.com/openai', apiVersion: '2025-04-01-preview' } }, query: { callId: 'rtc_3' }, url: 'wss://res.openai.azure.com/openai/v1/realtime?call_id=rtc_3', headers: { 'api-key': 'az-1' } },
  { name: 'azure GA transcription dials the intent alone, as OpenAI (#24 item 7; the model is pinned in its session)', providers: { azure: { apiKey: 'az-1', baseURL: 'https://res.openai.azure.com' } }, query: { intent: 'transcription', model: 'd' }, url: 'wss://res.openai.azure.com/openai/v1/realtime?intent=transcription', headers: { 'api-key': 'az-1' } },
  ...['v1', 'latest', 'preview'].map((apiVersion) => ({ name: `azure apiVersion "${apiVersion}" is the v1 API's own value: the GA surface (#24 item 8)`, providers: { azure: { apiKey: 'az-1', baseURL: 'https://res.openai.azure.com', apiVersion } }, query: { model: 'd' }, url: 'wss://res.openai.azure.com/openai/v1/realtime?model=d', headers: { 'api-key': 'az-1' } })),
  { name: 'azure Entra ID bearer', providers: { azure: { apiKey: 'eyJ-token', baseURL: 'https://res.openai.azure.com', auth: 'bearer' } }, query: { model: 'd' }, url: 'wss://res.openai.azure.com/openai/v1/realtime?model=d', headers: { authorization: 'Bearer eyJ-token' } },
  { name: 'azure GA sideband', providers: { azure: { apiKey: 'az-1', baseURL: 'https://res.openai.azure.com' } }, query: { callId: 'rtc_1' }, url: 'wss://res.openai.azure.com/openai/v1/realtime?call_id=rtc_1', headers: { 'api-key': 'az-1' } },
  { name: 'xai default', providers: { xai: { apiKey: 'xai-1' } }, query: { model: 'grok-voice' }, url: 'wss://api.x.ai/v1/realtime?model=grok-voice', headers: { authorization: 'Bearer xai-1' } },
  { name: 'bailian default (Beijing)', providers: { bailian: { apiKey: 'ds-1' } }, query: { model: 'qwen3-omni-flash-realtime' }, url: 'wss://dashscope.aliyuncs.com/api-ws/v1/realtime?model=qwen3-omni-flash-realtime', headers: { authorization: 'Bearer ds-1' } },
  { name: 'bailian intl host kept, chat path replaced', providers: { bailian: { apiKey: 'ds-1', baseURL: 'https://dashscope-intl.aliyuncs.com/compatible-mode/v1' } }, query: { model: 'q' }, url: 'wss://dashscope-intl.aliyuncs.com/api-ws/v1/realtime?model=q', headers: { authorization: 'Bearer ds-1' } },
  { name: 'zai default', providers: { zai: { apiKey: 'z-1' } }, query: { model: 'glm-realtime' }, url: 'wss://api.z.ai/api/paas/v4/realtime?model=glm-realtime', headers: { authorization: 'Bearer z-1' } },
  { name: 'zai coding plan base still reaches the realtime path', providers: { zai: { apiKey: 'z-1', baseURL: 'https://api.z.ai/api/coding/paas/v4' } }, query: { model: 'glm-realtime' }, url: 'wss://api.z.ai/api/paas/v4/realtime?model=glm-realtime', headers: { authorization: 'Bearer z-1' } },
  { name: 'zhipu China region', providers: { zhipu: { type: 'zai', apiKey: 'z-1', baseURL: 'https://open.bigmodel.cn/api/paas/v4' } }, query: { model: 'glm-realtime' }, url: 'wss://open.bigmodel.cn/api/paas/v4/realtime?model=glm-realtime', headers: { authorization: 'Bearer z-1' } },
  { name: 'openai-compatible by unknown name', providers: { stepfun: { apiKey: 'st-1', baseURL: 'https://api.stepfun.com/v1' } }, query: { model: 'step-audio-2' }, url: 'wss://api.stepfun.com/v1/realtime?model=step-audio-2', headers: { authorization: 'Bearer st-1' } },
  { name: 'no key, no auth header', providers: { local: { type: 'openai-compatible', baseURL: 'ws://localhost:8080/v1' } }, query: { model: 'm' }, url: 'ws://localhost:8080/v1/realtime?model=m', headers: {} }
]

for (const row of rows) {
  t.test(row.name, async (t) => {
    const registry = new ProviderRegistry({ providers: row.providers })
    const resolution = registry.resolve(row.query)
    const key = await resolution.provider.apiKey()
    const target = resolution.provider.target(resolution, key)
    t.equal(target.url, row.url)
    t.same(target.headers, row.headers)
    t.strictSame(target.protocols, [])
  })
}

t.test('a function key is called at every session start', async (t) => {
  let n = 0
  const registry = new ProviderRegistry({ providers: { azure: { baseURL: 'https://r.openai.azure.com', auth: 'bearer', apiKey: async () => `tok-${++n}` } } })
  const provider = registry.get('azure')
  t.equal(await provider?.apiKey(), 'tok-1')
  t.equal(await provider?.apiKey(), 'tok-2')
})

t.test('models that need no model name are provider-specific', async (t) => {
  const registry = new ProviderRegistry({ providers: { openai: {}, xai: {}, azure: { baseURL: 'https://r.openai.azure.com', apiVersion: '2025-04-01-preview' } } })
  t.throws(() => registry.resolve({ provider: 'xai' }), { code: 'FST_REALTIME_MODEL_REQUIRED', statusCode: 400 })
  t.throws(() => registry.resolve({ provider: 'azure' }), { code: 'FST_REALTIME_MODEL_REQUIRED' })
  t.equal(registry.resolve({ provider: 'openai', intent: 'transcription' }).model, undefined)
  const ga = new ProviderRegistry({ providers: { azure: { baseURL: 'https://r.openai.azure.com' } } })
  t.throws(() => ga.resolve({ provider: 'azure' }), { code: 'FST_REALTIME_MODEL_REQUIRED' }, 'a GA conversation needs its deployment')
  t.equal(ga.resolve({ provider: 'azure', intent: 'transcription' }).model, undefined)
})

t.test('each provider declares the intents it supports; any other is refused before a dial', async (t) => {
  const registry = new ProviderRegistry({
    providers: {
      openai: {},
      local: { baseURL: 'http://127.0.0.1:1/v1' },
      azure: { baseURL: 'https://r.openai.azure.com' },
      preview: { type: 'azure', baseURL: 'https://r.openai.azure.com', apiVersion: '2025-04-01-preview' },
      xai: {},
      bailian: {},
      zai: {}
    }
  })
  for (const name of ['openai', 'local', 'azure']) t.equal(registry.resolve({ provider: name, model: 'm', intent: 'transcription' }).intent, 'transcription', name)
  for (const [name, type] of [['preview', 'azure'], ['xai', 'xai'], ['bailian', 'bailian'], ['zai', 'zai']] as Array<[string, string]>) {
    t.throws(() => registry.resolve({ provider: name, model: 'm', intent: 'transcription' }), {
      code: 'FST_REALTIME_UNSUPPORTED_INTENT', statusCode: 400, message: `Provider "${name}" (type ${type}) does not support intent "transcription"`
    }, name)
  }
})

t.test('signaling endpoints per provider type, with the provider headers and key', async (t) => {
  const registry = new ProviderRegistry({
    providers: {
      openai: { apiKey: 'sk-1', headers: { 'OpenAI-Project': 'proj_1' } },
      azure: { apiKey: 'az-1', baseURL: 'https://res.openai.azure.com/openai/deployments/x' },
      preview: { type: 'azure', apiKey: 'az-1', baseURL: 'https://res.openai.azure.com', apiVersion: '2025-04-01-preview' },
      xai: { apiKey: 'xai-1' },
      bailian: {},
      zai: {},
      local: { baseURL: 'ws://localhost:8080/v1/' }
    }
  })
  const endpoint = (name: string, kind: 'client_secrets' | 'calls'): unknown => registry.get(name)?.endpoint(kind, 'key-1')
  t.same(endpoint('openai', 'calls'), { url: 'https://api.openai.com/v1/realtime/calls', headers: { 'openai-project': 'proj_1', authorization: 'Bearer key-1' } })
  t.same(endpoint('azure', 'client_secrets'), { url: 'https://res.openai.azure.com/openai/v1/realtime/client_secrets', headers: { 'api-key': 'key-1' } })
  for (const apiVersion of ['v1', 'latest', 'preview']) {
    const v1 = new ProviderRegistry({ providers: { azure: { apiKey: 'az-1', baseURL: 'https://res.openai.azure.com', apiVersion } } })
    t.same(v1.get('azure')?.endpoint('calls', 'key-1'), { url: 'https://res.openai.azure.com/openai/v1/realtime/calls', headers: { 'api-key': 'key-1' } }, `apiVersion "${apiVersion}" has signaling (#24 item 8)`)
    t.equal(v1.resolve({ provider: 'azure', intent: 'transcription' }).intent, 'transcription')
  }
  t.same(endpoint('xai', 'client_secrets'), { url: 'https://api.x.ai/v1/realtime/client_secrets', headers: { authorization: 'Bearer key-1' } })
  t.same(endpoint('local', 'calls'), { url: 'http://localhost:8080/v1/realtime/calls', headers: { authorization: 'Bearer key-1' } })
  for (const [name, kind] of [['preview', 'calls'], ['xai', 'calls'], ['bailian', 'client_secrets'], ['zai', 'calls']] as const) {
    t.equal(endpoint(name, kind), undefined, `${name} has no ${kind}`)
  }
  const xai = registry.get('xai')
  t.same(xai?.clientSecretBody({ expires_after: { anchor: 'created_at', seconds: 60 }, session: { model: 'm' } }), { expires_after: { seconds: 60 } })
  t.same(xai?.clientSecretBody({ session: {} }), {})
  const body = { session: { model: 'm' } }
  t.equal(registry.get('openai')?.clientSecretBody(body), body, 'OpenAI takes the body as it is')
})
