// @vitest-environment jsdom
import { describe, expect, it } from 'vitest'
import { render } from 'preact'
import { DiffView } from './SubmissionPanels'

describe('DiffView', () => {
  it('shows kept, added and removed words in order, added and removed as ins and del with names', () => {
    const root = document.createElement('div')
    render(
      <DiffView
        ops={[
          { op: 'equal', text: 'The union office was ' },
          { op: 'delete', text: 'searched' },
          { op: 'insert', text: 'raided' },
          { op: 'equal', text: ' on 3 May. <b>not markup</b>' },
        ]}
      />,
      root,
    )
    const diff = root.querySelector('[data-testid="diff"]')!
    expect(diff.textContent).toBe('The union office was searchedraided on 3 May. <b>not markup</b>')
    expect(diff.querySelector('del')?.textContent).toBe('searched')
    expect(diff.querySelector('ins')?.textContent).toBe('raided')
    expect(diff.querySelector('ins')?.getAttribute('aria-label')).toBe('Added')
    expect(diff.querySelector('b')).toBeNull() // text, never markup
  })
})
