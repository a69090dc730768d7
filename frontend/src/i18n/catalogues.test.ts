import { describe, expect, it } from 'vitest'
import { pick } from '.'
import { en } from './en'
import { es } from './es'
import { fr } from './fr'
import { ru } from './ru'

const catalogues = { en, fr, es, ru }

const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort()

describe('catalogues', () => {
  for (const [code, catalogue] of Object.entries(catalogues)) {
    it(`${code} has every English key, with the same placeholders, and nothing else`, () => {
      const c = catalogue as Record<string, string>
      for (const key of Object.keys(en) as (keyof typeof en)[]) {
        expect(c[key], `${code} lacks ${key}`).toBeTypeOf('string')
        expect(c[key].trim(), `${code}: ${key} is empty`).not.toBe('')
        expect(placeholders(c[key]), `${code}: ${key}`).toEqual(placeholders(en[key]))
      }
      expect(Object.keys(c).filter((k) => !(k in en))).toEqual([])
    })
  }

  it('picks the first supported browser language', () => {
    expect(pick(['de-CH', 'fr-CH', 'en'])).toBe('fr')
    expect(pick(['ru'])).toBe('ru')
    expect(pick(['ky-KG'])).toBe('en')
  })
})
