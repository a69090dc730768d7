// Starts the real portal for the browser tests: the unionportal binary built with this
// UI (bin/unionportal, from `make build`), `serve --demo` on a fresh SQLite database in
// a temporary directory, on a free loopback port. The demo logins reach the tests
// through the environment; the portal stops when the tests end.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('../..', import.meta.url))

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))))
    })
  })
}

export default async function globalSetup() {
  const binary = process.env.UNIONPORTAL_BINARY ?? join(repo, 'bin/unionportal')
  if (!existsSync(binary)) throw new Error(`${binary} is missing: run make build (make test does)`)
  const dir = mkdtempSync(join(tmpdir(), 'unionportal-e2e-'))
  const port = await freePort()
  const base = `http://127.0.0.1:${port}`
  const proc = spawn(binary, ['serve', '--demo'], {
    env: {
      ...process.env,
      UNIONPORTAL_ADDR: `127.0.0.1:${port}`,
      UNIONPORTAL_DATA_DIR: join(dir, 'data'),
      UNIONPORTAL_BASE_URL: base,
      UNIONPORTAL_LOG_FORMAT: 'json',
      // Small, so that a browser test can send a file over the limit.
      UNIONPORTAL_MAX_FILE_BYTES: String(2 << 20),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let log = ''
  proc.stderr?.on("data", (b: Buffer) => (log += b))
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      if ((await fetch(base + '/readyz')).ok) break
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
  const logins: Record<string, { email: string; password: string }> = {}
  for (const line of readFileSync(join(dir, 'data', 'demo-logins.txt'), 'utf8').split('\n')) {
    const [role, email, password] = line.trim().split(/\s+/)
    if (email?.includes('@') && password) logins[role] = { email, password }
  }
  process.env.UNIONPORTAL_E2E_URL = base
  process.env.UNIONPORTAL_E2E_DATA = join(dir, 'data')
  process.env.UNIONPORTAL_E2E_LOGINS = JSON.stringify(logins)
  return async () => {
    proc.kill('SIGTERM')
    await new Promise((r) => proc.once('exit', r))
    rmSync(dir, { recursive: true, force: true })
  }
}
