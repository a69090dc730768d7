// The suite's portal: reached at http://localhost:PORT, so that security keys work in
// the browser tests (a secure context, and a host name the portal can bind keys to).
import { startPortal } from './portal'

export default async function globalSetup() {
  const portal = await startPortal('localhost')
  process.env.UNIONPORTAL_E2E_URL = portal.url
  process.env.UNIONPORTAL_E2E_DATA = portal.data
  process.env.UNIONPORTAL_E2E_LOGINS = JSON.stringify(portal.logins)
  return portal.stop
}
