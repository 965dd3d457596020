// The page frame: navigation, theme switch, and the route table.

import { useEffect } from 'preact/hooks';
import { signOut, useAuth } from './auth';
import { Link } from './components/common';
import { DependencyMapPage } from './pages/DependencyMap';
import { LivePage } from './pages/Live';
import { LogsPage } from './pages/Logs';
import { SearchPage } from './pages/Search';
import { ServicePage } from './pages/Service';
import { ServicesPage } from './pages/Services';
import { SessionPage, SessionLookup } from './pages/Session';
import { SignInPage } from './pages/SignIn';
import { TracePage } from './pages/Trace';
import { WsPage } from './pages/Ws';
import { useLocation } from './router';
import { setThemeChoice, themeChoice, useTheme, type ThemeChoice } from './theme';

const NAV = [
  { href: '/', label: 'Search', match: (p: string) => p === '/' || p.startsWith('/search') || p.startsWith('/trace/') },
  { href: '/services', label: 'Services', match: (p: string) => p.startsWith('/services') },
  { href: '/dependencies', label: 'Service map', match: (p: string) => p.startsWith('/dependencies') },
  { href: '/ws', label: 'WebSockets', match: (p: string) => p.startsWith('/ws') },
  { href: '/logs', label: 'Logs', match: (p: string) => p.startsWith('/logs') },
  { href: '/sessions', label: 'Sessions', match: (p: string) => p.startsWith('/sessions') },
  { href: '/live', label: 'Live tail', match: (p: string) => p.startsWith('/live') },
];

export function App() {
  const { path, search } = useLocation();
  const auth = useAuth();
  useTheme();
  useEffect(() => {
    document.getElementById('main')?.focus({ preventScroll: true });
  }, [path]);

  let page;
  let m: RegExpMatchArray | null;
  if (auth.needed) page = <SignInPage />;
  else if (path === '/' || path === '/search') page = <SearchPage search={search} />;
  else if ((m = path.match(/^\/trace\/([^/]+)\/?$/))) page = <TracePage id={decodeURIComponent(m[1])} search={search} />;
  else if (path === '/ws' || path === '/ws/') page = <WsPage search={search} />;
  else if (path === '/services' || path === '/services/') page = <ServicesPage search={search} />;
  else if ((m = path.match(/^\/services\/([^/]+)\/?$/))) page = <ServicePage name={decodeURIComponent(m[1])} search={search} />;
  else if (path === '/dependencies' || path === '/dependencies/') page = <DependencyMapPage search={search} />;
  else if ((m = path.match(/^\/sessions\/([^/]+)\/?$/))) page = <SessionPage id={decodeURIComponent(m[1])} />;
  else if (path === '/sessions' || path === '/sessions/') page = <SessionLookup />;
  else if (path === '/live' || path === '/live/') page = <LivePage search={search} />;
  else if (path === '/logs' || path === '/logs/') page = <LogsPage search={search} />;
  else
    page = (
      <section class="page">
        <h1>Not found</h1>
        <p>
          There is no page at <code>{path}</code>. <Link href="/">Search traces</Link>.
        </p>
      </section>
    );

  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <Link href="/" class="brand" aria-label="Tracewire home">
          <svg viewBox="0 0 16 16" width="18" height="18" aria-hidden="true">
            <path d="M1 8h4l2-5 2 10 2-5h4" fill="none" stroke="currentColor" stroke-width="2" />
          </svg>
          Tracewire
        </Link>
        <nav aria-label="Pages">
          {NAV.map((n) => (
            <Link href={n.href} aria-current={n.match(path) ? 'page' : undefined}>
              {n.label}
            </Link>
          ))}
        </nav>
        {auth.signedIn && (
          <button type="button" class="sign-out" onClick={signOut}>
            Sign out
          </button>
        )}
        <ThemeSwitch />
      </header>
      <main id="main" tabIndex={-1} key={auth.epoch}>
        {page}
      </main>
    </>
  );
}

function ThemeSwitch() {
  const t = useTheme();
  return (
    <label class="theme">
      <span class="sr-only">Colour theme</span>
      <select
        value={themeChoice()}
        data-effective={t}
        onChange={(e) => setThemeChoice((e.currentTarget as HTMLSelectElement).value as ThemeChoice)}
      >
        <option value="system">System theme</option>
        <option value="light">Light</option>
        <option value="dark">Dark</option>
      </select>
    </label>
  );
}
