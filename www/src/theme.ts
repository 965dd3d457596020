// Light, dark, or the system's choice; remembered in localStorage and applied as
// `data-theme` on <html>, which the CSS variables key on.

import { useEffect, useState } from 'preact/hooks';

export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'tracewire.theme';
const EVENT = 'tw:theme';

export function themeChoice(): ThemeChoice {
  const v = localStorage.getItem(KEY);
  return v === 'light' || v === 'dark' ? v : 'system';
}

/** The theme in effect: the stored choice, or the system's preference. */
export function effectiveTheme(): 'light' | 'dark' {
  const c = themeChoice();
  if (c !== 'system') return c;
  return matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function applyTheme(): void {
  document.documentElement.dataset.theme = effectiveTheme();
  window.dispatchEvent(new Event(EVENT));
}

export function setThemeChoice(c: ThemeChoice): void {
  if (c === 'system') localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, c);
  applyTheme();
}

/** Re-renders (and re-colours charts) when the theme changes. */
export function useTheme(): 'light' | 'dark' {
  const [t, setT] = useState(effectiveTheme);
  useEffect(() => {
    const update = () => setT(effectiveTheme());
    const mq = matchMedia('(prefers-color-scheme: dark)');
    const onSystem = () => applyTheme();
    window.addEventListener(EVENT, update);
    mq.addEventListener('change', onSystem);
    return () => {
      window.removeEventListener(EVENT, update);
      mq.removeEventListener('change', onSystem);
    };
  }, []);
  return t;
}
