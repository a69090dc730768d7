import { render } from 'preact'
import { App } from './app'
import { startLocale } from './i18n'
import './styles.css'

startLocale()
render(<App />, document.getElementById('app')!)
