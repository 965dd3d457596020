// A sortable table's column header: a button that sorts by its column (again: the other way
// round), with `aria-sort` on the header cell, so the order is clear to everyone.

import type { SortKey } from '../lib/spanmetrics';

export interface SortState {
  key: SortKey;
  reversed: boolean;
}

/** The natural order of each column, as `sortRows` sorts it without `reversed`. */
function naturalAscending(key: SortKey): boolean {
  return key === 'name';
}

export function SortHeader(props: { label: string; column: SortKey; sort: SortState; onSort: (s: SortState) => void; num?: boolean }) {
  const { label, column, sort, onSort, num } = props;
  const active = sort.key === column;
  const ascending = naturalAscending(column) !== (active && sort.reversed);
  return (
    <th scope="col" class={num ? 'num' : undefined} aria-sort={active ? (ascending ? 'ascending' : 'descending') : 'none'}>
      <button
        type="button"
        class="sort"
        title={`Sort by ${label.toLowerCase()}`}
        onClick={() => onSort({ key: column, reversed: active ? !sort.reversed : false })}
      >
        {label}
        <span aria-hidden="true" class="sort-mark">
          {active ? (ascending ? '▲' : '▼') : ''}
        </span>
      </button>
    </th>
  );
}
