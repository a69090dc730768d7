// Generates src/api/schema.d.ts from the API's OpenAPI document, which the Go code
// prints (`unionportal openapi`): a changed API breaks the UI's type check, not its users.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const here = dirname(fileURLToPath(import.meta.url))
const ui = join(here, '..')
const doc = execFileSync('go', ['run', './cmd/unionportal', 'openapi'], { cwd: join(ui, '..'), maxBuffer: 64 << 20 })
writeFileSync(join(ui, 'src/api/openapi.json'), doc)
execFileSync(join(ui, 'node_modules/.bin/openapi-typescript'), ['src/api/openapi.json', '-o', 'src/api/schema.d.ts'], {
  cwd: ui,
  stdio: 'inherit',
})
