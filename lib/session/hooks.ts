// Calling the app's hooks from a session: sync or async, and a hook that throws or rejects is logged once per
// session and hook, and never reaches the relay.

type MaybePromise = void | Promise<void>

/** Where a hook's failure is logged: once per session and cause, however often it fails. */
export interface HookLog {
  logOnce (cause: string, level: 'warn' | 'error', fields: object, message: string): void
}

export function callHook<A extends unknown[]> (log: HookLog, name: string, hook: ((...args: A) => MaybePromise) | undefined, ...args: A): void {
  if (hook === undefined) return
  const failed = (err: unknown): void => log.logOnce(name, 'error', { err }, `${name} hook failed`)
  try {
    Promise.resolve(hook(...args)).catch(failed)
  } catch (err) {
    failed(err)
  }
}
