// The read token of a collector that has an access file. It is kept for this browser tab only
// (sessionStorage), sent as `Authorization: Bearer` on every API request and as a WebSocket
// subprotocol on the live tail; a 401 from the API asks for it on the sign-in screen.

import { useEffect, useState } from 'preact/hooks';

const KEY = 'tracewire.token';
const EVENT = 'tw:auth';

/** The live tail's subprotocol; the token travels as a second one, `tracewire.token.<token>`. */
export const LIVE_PROTOCOL = 'tracewire';
const TOKEN_PROTOCOL_PREFIX = 'tracewire.token.';

let signInNeeded = false;
let epoch = 0;

export function token(): string | null {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

function changed(): void {
  epoch += 1;
  window.dispatchEvent(new Event(EVENT));
}

/** Keeps `value` for this tab; the pages load again with it. */
export function signIn(value: string): void {
  sessionStorage.setItem(KEY, value);
  signInNeeded = false;
  changed();
}

/** Forgets the token and shows the sign-in screen. */
export function signOut(): void {
  sessionStorage.removeItem(KEY);
  signInNeeded = true;
  changed();
}

/** The API answered 401: the token is missing or no longer granted. */
export function unauthorized(): void {
  if (token() !== null) sessionStorage.removeItem(KEY);
  if (!signInNeeded) {
    signInNeeded = true;
    changed();
  }
}

/** Headers that carry the token, when there is one. */
export function authHeaders(): Record<string, string> {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

/** Subprotocols for the live tail's WebSocket. */
export function liveProtocols(): string[] {
  const t = token();
  return t ? [LIVE_PROTOCOL, TOKEN_PROTOCOL_PREFIX + t] : [LIVE_PROTOCOL];
}

export interface AuthState {
  /** The sign-in screen is due. */
  needed: boolean;
  /** A token is kept (so a sign-out makes sense). */
  signedIn: boolean;
  /** Changes at each sign-in, so pages load again. */
  epoch: number;
}

function state(): AuthState {
  return { needed: signInNeeded, signedIn: token() !== null, epoch };
}

/** Re-renders when the sign-in state changes. */
export function useAuth(): AuthState {
  const [s, setS] = useState(state);
  useEffect(() => {
    const update = () => setS(state());
    window.addEventListener(EVENT, update);
    return () => window.removeEventListener(EVENT, update);
  }, []);
  return s;
}
