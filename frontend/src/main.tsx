import { render } from 'preact'
import { App } from './app'
import { onLanguageChosen, startLocale } from './i18n'
import { api } from './api/client'
import './styles.css'

startLocale()
onLanguageChosen((language) => {
  void api.PUT('/me/language', { body: { language } })
})
render(<App />, document.getElementById('app')!)
