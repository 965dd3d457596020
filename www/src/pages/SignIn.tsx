// The sign-in screen: shown when the API answers 401, that is when the collector has an access
// file and this tab holds no token it grants. The token is checked against the API before the
// pages load with it.

import { useState } from 'preact/hooks';
import { signIn } from '../auth';

type Check = { state: 'idle' } | { state: 'checking' } | { state: 'refused'; message: string };

export function SignInPage() {
  const [value, setValue] = useState('');
  const [check, setCheck] = useState<Check>({ state: 'idle' });

  const submit = async (e: Event) => {
    e.preventDefault();
    const candidate = value.trim();
    if (!candidate) return;
    setCheck({ state: 'checking' });
    let status = 0;
    try {
      const res = await fetch('/api/services', { headers: { accept: 'application/json', authorization: `Bearer ${candidate}` } });
      status = res.status;
    } catch {
      setCheck({ state: 'refused', message: 'The collector did not answer. Is it still running?' });
      return;
    }
    if (status === 401) {
      setCheck({ state: 'refused', message: 'The collector does not grant this token. Check it, or ask for a new one.' });
      return;
    }
    signIn(candidate);
  };

  return (
    <section class="page sign-in">
      <h1>Sign in</h1>
      <p>
        This collector keeps each tenant's data apart: enter a read token of your tenant. It is kept for this
        browser tab only and forgotten when you sign out or close the tab.
      </p>
      <form onSubmit={submit}>
        <label>
          Read token
          <input
            type="password"
            name="token"
            autoComplete="off"
            spellcheck={false}
            value={value}
            onInput={(e) => setValue((e.currentTarget as HTMLInputElement).value)}
            required
          />
        </label>
        <button type="submit" class="primary" disabled={check.state === 'checking'}>
          {check.state === 'checking' ? 'Checking…' : 'Sign in'}
        </button>
      </form>
      {check.state === 'refused' && (
        <p class="error-box" role="alert">
          {check.message}
        </p>
      )}
      <p class="muted">
        An operator makes tokens with <code>tracewire-collector keys new --read</code> and grants them in the
        access file.
      </p>
    </section>
  );
}
