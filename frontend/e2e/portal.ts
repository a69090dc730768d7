// Starts a real `unionportal serve --demo` on a temporary database and a free port: the
// suite's shared portal (global-setup.ts) and, for a spec that needs other settings, a
// portal of its own.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('../..', import.meta.url))

export interface Portal {
  /** url is the base URL users reach it at. */
  url: string
  /** data is its data directory (outbox, demo logins). */
  data: string
  /** logins are the demo's logins by role. */
  logins: Record<string, { email: string; password: string }>
  stop: () => Promise<void>
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))))
    })
  })
}

/** startPortal starts a demo portal listening on 127.0.0.1, reached at host (localhost
 * is a secure context and a valid relying party for security keys; an IP address is
 * neither), with env added to its settings. */
export async function startPortal(host: 'localhost' | '127.0.0.1', env: Record<string, string> = {}): Promise<Portal> {
  const binary = process.env.UNIONPORTAL_BINARY ?? join(repo, 'bin/unionportal')
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run make build (make test does)`)
  const dir = mkdtempSync(join(tmpdir(), 'unionportal-e2e-'))
  const port = await freePort()
  const url = `http://${host}:${port}`
  // The test tools' own variables (UNIONPORTAL_E2E_*, …) are no settings of the portal,
  // which refuses unknown ones: its settings are only those given here.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('UNIONPORTAL_')))
  const proc = spawn(binary, ['serve', '--demo'], {
    env: {
      ...inherited,
      UNIONPORTAL_ADDR: `127.0.0.1:${port}`,
      UNIONPORTAL_DATA_DIR: join(dir, 'data'),
      UNIONPORTAL_BASE_URL: url,
      UNIONPORTAL_LOG_FORMAT: 'json',
      // Small, so that a browser test can send a file over the limit.
      UNIONPORTAL_MAX_FILE_BYTES: String(2 << 20),
      ...env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let log = ''
  proc.stderr?.on('data', (b: Buffer) => (log += b))
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok) break
    } catch {
      // not up yet
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL')
      throw new Error('the portal did not start:\n' + log.slice(-4000))
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  // demo-logins.txt: "  role  email  password" lines.
  const logins: Portal['logins'] = {}
  for (const line of readFileSync(join(dir, 'data', 'demo-logins.txt'), 'utf8').split('\n')) {
    const [role, email, password] = line.trim().split(/\s+/)
    if (email?.includes('@') && password) logins[role] = { email, password }
  }
  return {
    url,
    data: join(dir, 'data'),
    logins,
    stop: async () => {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM')
        await new Promise((r) => proc.once('exit', r))
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
