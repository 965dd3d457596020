// A list that renders only the rows in view (plus a few), so 5,000 spans or 10,000 live rows
// scroll as smoothly as 50. Rows have one fixed height, which keeps the arithmetic exact.

import type { ComponentChildren, CSSProperties, HTMLAttributes } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';

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
}

export function VirtualList(props: VirtualListProps) {
  const { count, rowHeight, renderRow, scrollTo, overscan = 8 } = props;
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);

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
    const top = scrollTo * rowHeight;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = top + rowHeight - el.clientHeight;
  }, [scrollTo, rowHeight]);

  const first = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((scrollTop + height) / rowHeight) + overscan);
  const rows: ComponentChildren[] = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div key={i} class="vrow" role={props.rowRole} style={{ top: `${i * rowHeight}px`, height: `${rowHeight}px` }}>
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
      <div class="vlist-inner" role={props.rowRole ? 'none' : undefined} style={{ height: `${count * rowHeight}px` }}>
        {rows}
      </div>
    </div>
  );
}
