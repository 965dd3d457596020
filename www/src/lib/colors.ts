// Service colours: distinct hues that read on both the light and the dark background.

const PALETTE = [
  '#2f7de1', '#e0703a', '#2ea36b', '#b45ad6', '#d4a106',
  '#d94f78', '#1aa3b8', '#7a8a1f', '#8a6ae6', '#c0603a',
];

/** The colour of the `i`th line of a chart whose lines are ranked (message types, busiest first):
 * the palette in order, so the first few are the most distinct hues. */
export function seriesColor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

/** The colour for a service name, the same on every page. */
export function serviceColor(name: string): string {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return PALETTE[(h >>> 0) % PALETTE.length];
}

/** Colours for the services of one trace: distinct while there are fewer than ten. */
export function colorsFor(services: readonly string[]): Map<string, string> {
  const used = new Set<string>();
  const out = new Map<string, string>();
  for (const s of services) {
    let c = serviceColor(s);
    if (used.has(c) && used.size < PALETTE.length) c = PALETTE.find((p) => !used.has(p))!;
    used.add(c);
    out.set(s, c);
  }
  return out;
}
