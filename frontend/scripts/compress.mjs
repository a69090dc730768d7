// Precompresses the build (gzip and brotli beside each file, served by the portal to
// browsers that accept them) and enforces the first page's JavaScript budget: the
// scripts index.html loads, gzip, must stay within 50 KiB (docs/benchmarks.md, P9).
import { readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs'
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
if (total > budget) {
  console.error(`the first page's JavaScript is ${total} bytes gzip, over the budget of ${budget}`)
  process.exit(1)
}
