import { useEffect } from 'preact/hooks'
import { LocationProvider, Route, Router, lazy, useLocation } from 'preact-iso'
import { load, mustEnrol, signOut, useSession } from './session'
import { locales, setLocale, t, useLocale, type Locale } from './i18n'
import { SignIn } from './pages/SignIn'
import { Home } from './pages/Home'
import { StepUpPrompt } from './StepUp'
// Pages past the first load lazily: the first page stays small (docs/benchmarks.md, P9).
const Submission = lazy(() => import('./pages/Submission').then((m) => m.Submission))
const Editor = lazy(() => import('./pages/Editor').then((m) => m.Editor))
const NewSubmission = lazy(() => import('./pages/NewSubmission').then((m) => m.NewSubmission))
const Tokens = lazy(() => import('./pages/Tokens').then((m) => m.Tokens))
const Cases = lazy(() => import('./pages/Cases').then((m) => m.Cases))
const CaseView = lazy(() => import('./pages/Cases').then((m) => m.CaseView))
const Admin = lazy(() => import('./pages/Admin').then((m) => m.Admin))
const Profile = lazy(() => import('./pages/Profile').then((m) => m.Profile))
const Security = lazy(() => import('./pages/Security').then((m) => m.Security))
const Audit = lazy(() => import('./pages/Audit').then((m) => m.Audit))
const CorrespondenceMessage = lazy(() => import('./pages/Correspondence').then((m) => m.CorrespondenceMessage))

// Route components that keep their identity across the shell's renders (a language
// switch, a reloaded session), so that what their page shows once (recovery codes) or
// has loaded (more audit events) is not lost.
function SecurityRoute() {
  return <Security mustEnrol={false} onChanged={load} />
}
function EnrolmentRoute() {
  return <Security mustEnrol={true} onChanged={load} />
}
function AuditRoute({ params }: { params: { tenant: string } }) {
  return <Audit tenant={params.tenant} />
}

function Shell() {
  const session = useSession()
  const locale = useLocale()
  const { route } = useLocation()

  useEffect(() => {
    load()
  }, [])

  if (session.status === 'loading') return null
  const userID = session.status === 'signedIn' ? session.me.user.id : undefined
  const tenant = session.status === 'signedIn' ? session.me.memberships?.[0]?.tenant.slug : undefined
  const isAdmin = session.status === 'signedIn' && (session.me.memberships?.[0]?.roles ?? []).includes('tenant_admin')
  // Roles that require a second factor, and none yet: only the page that adds one.
  const enrolling = session.status === 'signedIn' && mustEnrol(session.me)
  const full = session.status === 'signedIn' && !enrolling

  return (
    <>
      <a class="skip" href="#main">
        {t('app.skip')}
      </a>
      <header class="top">
        <span class="brand">{t('app.name')}</span>
        <nav aria-label={t('nav.home')}>
          {full && <a href="/">{t('nav.home')}</a>}
          {full && tenant && <a href={`/t/${encodeURIComponent(tenant)}/cases`}>{t('cases.nav')}</a>}
          {full && tenant && isAdmin && <a href={`/t/${encodeURIComponent(tenant)}/admin`}>{t('admin.nav')}</a>}
          {full && <a href="/me/tokens">{t('tokens.nav')}</a>}
          {full && <a href="/me">{t('profile.nav')}</a>}
          <label class="lang">
            <span>{t('nav.language')}</span>
            <select value={locale} onChange={(e) => setLocale(e.currentTarget.value as Locale, userID)}>
              {locales.map((l) => (
                <option key={l.code} value={l.code} lang={l.code}>
                  {l.name}
                </option>
              ))}
            </select>
          </label>
          {session.status === 'signedIn' && (
            <button type="button" onClick={() => signOut().then(() => route('/'))}>
              {t('nav.signOut')}
            </button>
          )}
        </nav>
      </header>
      {session.status === 'signedIn' && <StepUpPrompt />}
      {session.status === 'signedOut' ? (
        <SignIn expired={session.expired} returnTo={session.returnTo} onDone={(to) => route(to)} />
      ) : enrolling ? (
        <Router>
          <Route path="/me/security" component={EnrolmentRoute} />
          <Route default component={EnrolmentRoute} />
        </Router>
      ) : (
        <Router>
          <Route path="/" component={() => <Home me={session.me} />} />
          <Route path="/me/tokens" component={() => <Tokens />} />
          <Route path="/me/security" component={SecurityRoute} />
          <Route path="/t/:tenant/audit" component={AuditRoute} />
          <Route path="/me" component={() => <Profile me={session.me} />} />
          <Route path="/t/:tenant/admin" component={({ params }: { params: { tenant: string } }) => <Admin tenant={params.tenant} />} />
          <Route path="/t/:tenant/cases" component={({ params }: { params: { tenant: string } }) => <Cases tenant={params.tenant} />} />
          <Route
            path="/t/:tenant/cases/:id"
            component={({ params }: { params: { tenant: string; id: string } }) => <CaseView tenant={params.tenant} id={params.id} />}
          />
          <Route
            path="/t/:tenant/new"
            component={({ params, query }: { params: { tenant: string }; query: Record<string, string> }) => (
              <NewSubmission
                tenant={params.tenant}
                caseID={query.case}
                replyTo={query.reply}
                onCreated={(id) => route(`/t/${encodeURIComponent(params.tenant)}/submissions/${encodeURIComponent(id)}/edit`)} />
            )}
          />
          <Route
            path="/t/:tenant/correspondence/:id"
            component={({ params }: { params: { tenant: string; id: string } }) => <CorrespondenceMessage tenant={params.tenant} id={params.id} />}
          />
          <Route
            path="/t/:tenant/submissions/:id/edit"
            component={({ params }: { params: { tenant: string; id: string } }) => <Editor tenant={params.tenant} id={params.id} />}
          />
          <Route
            path="/t/:tenant/submissions/:id"
            component={({ params }: { params: { tenant: string; id: string } }) => <Submission tenant={params.tenant} id={params.id} />}
          />
          <Route default component={() => <Home me={session.me} />} />
        </Router>
      )}
    </>
  )
}

export function App() {
  return (
    <LocationProvider>
      <Shell />
    </LocationProvider>
  )
}
