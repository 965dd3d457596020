// A list that renders only the rows in view (plus a few), so 5,000 spans or 10,000 live rows
// scroll as smoothly as 50. Rows have one fixed height, which keeps the arithmetic exact; a few
// rows may be taller (an expanded log record), given by index in `tall`.

import type { ComponentChildren, CSSProperties, HTMLAttributes } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';

export interface VirtualListProps {
  count: number;
  rowHeight: number;
  renderRow: (index: number) => ComponentChildren;
  /** Keep this row in view whenever it changes (keyboard selection). */
  scrollTo?: number | null;
  class?: string;
  style?: CSSProperties;
  overscan?: number;
  /** ARIA role of each row wrapper, e.g. `listitem` inside an outer `list`. */
  rowRole?: 'listitem';
  /** Extra attributes for the scrolling element (role, tabindex, key handlers, aria-*). */
  outer?: HTMLAttributes<HTMLDivElement>;
  /** Rows taller than `rowHeight`: index to height in pixels. */
  tall?: ReadonlyMap<number, number>;
  /** Called when the last rows scroll into view, e.g. to load more. */
  onEnd?: () => void;
}

/** Row positions when a few rows are taller than the rest. */
export class RowLayout {
  private readonly extra: [number, number][];

  constructor(
    readonly count: number,
    readonly rowHeight: number,
    tall: ReadonlyMap<number, number> = new Map(),
  ) {
    // Sorted by index, each with the extra height of the rows up to and including it.
    let sum = 0;
    this.extra = [...tall.entries()]
      .filter(([i, h]) => i >= 0 && i < count && h > rowHeight)
      .sort((a, b) => a[0] - b[0])
      .map(([i, h]) => [i, (sum += h - rowHeight)]);
  }

  /** Extra height of the tall rows before row `i`. */
  private extraBefore(i: number): number {
    let e = 0;
    for (const [index, sum] of this.extra) {
      if (index >= i) break;
      e = sum;
    }
    return e;
  }

  top(i: number): number {
    return i * this.rowHeight + this.extraBefore(i);
  }

  height(i: number): number {
    const next = this.top(i + 1) - this.top(i);
    return next;
  }

  total(): number {
    return this.top(this.count);
  }

  /** The row at vertical position `y`. */
  at(y: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.top(mid + 1) <= y) lo = mid + 1;
      else hi = mid;
    }
    return Math.min(lo, Math.max(0, this.count - 1));
  }
}

export function VirtualList(props: VirtualListProps) {
  const { count, rowHeight, renderRow, scrollTo, overscan = 8, tall, onEnd } = props;
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);
  const layout = useMemo(() => new RowLayout(count, rowHeight, tall), [count, rowHeight, tall]);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setHeight(el.clientHeight || 600);
    const ro = new ResizeObserver(() => setHeight(el.clientHeight || 600));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  useEffect(() => {
    const el = ref.current;
    if (!el || scrollTo === null || scrollTo === undefined || scrollTo < 0) return;
    const top = layout.top(scrollTo);
    const h = layout.height(scrollTo);
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + h > el.scrollTop + el.clientHeight) el.scrollTop = top + h - el.clientHeight;
  }, [scrollTo, layout]);

  const first = Math.max(0, layout.at(scrollTop) - overscan);
  const last = Math.min(count, layout.at(scrollTop + height) + 1 + overscan);

  // The end of the list is in view (or the list is shorter than its box).
  const atEnd = count > 0 && last >= count;
  useEffect(() => {
    if (atEnd) onEnd?.();
  }, [atEnd, count]);

  const rows: ComponentChildren[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div key={i} class="vrow" role={props.rowRole} style={{ top: `${layout.top(i)}px`, height: `${layout.height(i)}px` }}>
        {renderRow(i)}
      </div>,
    );
  }
  return (
    <div
      {...props.outer}
      ref={ref}
      class={`vlist ${props.class ?? ''}`}
      style={props.style}
      onScroll={(e) => setScrollTop((e.currentTarget as HTMLDivElement).scrollTop)}
    >
      <div class="vlist-inner" role={props.rowRole ? 'none' : undefined} style={{ height: `${layout.total()}px` }}>
        {rows}
      </div>
    </div>
  );
}
