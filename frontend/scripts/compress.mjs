// Precompresses the build (gzip and brotli beside each file, served by the portal to
// browsers that accept them) and enforces the first page's JavaScript budget: the
// scripts index.html loads, gzip, must stay within 50 KiB (docs/benchmarks.md, P9).
import { readFileSync, writeFileSync, readdirSync, statSync, rmSync, existsSync } from 'node:fs'
import { SourceMap } from 'node:module'
import { join, extname } from 'node:path'
import { gzipSync, brotliCompressSync, constants } from 'node:zlib'
import { fileURLToPath } from 'node:url'

const dist = join(fileURLToPath(new URL('..', import.meta.url)), 'dist')
const budget = 50 * 1024
const compressible = new Set(['.js', '.css', '.html', '.svg', '.json', '.txt'])

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name)
    return statSync(p).isDirectory() ? walk(p) : [p]
  })
}

// Where the first page's bytes come from, by package, from the hidden source maps: each
// generated character is attributed to its source; the gzip share is estimated in
// proportion to the raw bytes.
function breakdown(js) {
  const mapFile = js + '.map'
  if (!existsSync(mapFile)) return []
  const map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')))
  const lines = readFileSync(js, 'utf8').split('\n')
  const bytes = new Map()
  lines.forEach((line, l) => {
    for (let c = 0; c < line.length; c++) {
      const e = map.findEntry(l, c)
      const src = e?.originalSource ?? '(bundler)'
      const m = src.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)
      const key = m ? m[1] : src.includes('/src/i18n/') ? 'message catalogues' : src.includes('/src/') ? 'the app' : '(bundler)'
      bytes.set(key, (bytes.get(key) ?? 0) + 1)
    }
  })
  const total = [...bytes.values()].reduce((a, b) => a + b, 0)
  return [...bytes].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, v / total])
}

const parts = []
for (const file of walk(dist)) {
  if (file.endsWith('.js') && readFileSync(join(dist, 'index.html'), 'utf8').includes(file.slice(dist.length + 1))) parts.push(...breakdown(file).map(([k, share]) => [k, share, file]))
}
for (const file of walk(dist)) {
  if (file.endsWith('.map')) rmSync(file)
}

for (const file of walk(dist)) {
  if (!compressible.has(extname(file))) continue
  const data = readFileSync(file)
  writeFileSync(file + '.gz', gzipSync(data, { level: 9 }))
  writeFileSync(
    file + '.br',
    brotliCompressSync(data, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length } }),
  )
}

// The first page: every script index.html names (entry and module preloads).
const index = readFileSync(join(dist, 'index.html'), 'utf8')
const scripts = [...index.matchAll(/(?:src|href)="\/(assets\/[^"]+\.js)"/g)].map((m) => m[1])
let total = 0
const rows = []
for (const s of scripts) {
  const size = gzipSync(readFileSync(join(dist, s)), { level: 9 }).length
  total += size
  rows.push(`${s} ${(size / 1024).toFixed(1)} KiB`)
}
console.log(`first page JavaScript (gzip): ${(total / 1024).toFixed(1)} KiB of ${budget / 1024} KiB\n  ` + rows.join('\n  '))
if (parts.length) {
  console.log('largest parts (gzip, estimated from raw shares):')
  for (const [k, share] of parts.slice(0, 8)) console.log(`  ${k}: ~${((share * total) / 1024).toFixed(1)} KiB`)
}
if (total > budget) {
  console.error(`the first page's JavaScript is ${total} bytes gzip, over the budget of ${budget}`)
  process.exit(1)
}
