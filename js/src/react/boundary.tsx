// TracewireErrorBoundary: an error boundary that reports what it catches as an exception record.
import { Component, type ErrorInfo, type ReactNode } from 'react';
import type { TracewireAttributes } from '../../wasm/tracewire_sdk.js';
import { captureException } from '../index.js';

export interface TracewireErrorBoundaryProps {
  children?: ReactNode;
  /** Shown instead of the children after an error; a function gets the error and a reset. */
  fallback?: ReactNode | ((error: unknown, reset: () => void) => ReactNode);
  /** Called after the error is reported. */
  onError?: (error: unknown, info: ErrorInfo) => void;
  /** Extra attributes on the report, e.g. the name of the page region. */
  attributes?: TracewireAttributes;
}

interface State {
  failed: boolean;
  error: unknown;
}

/**
 * Catches render errors below it and records each as an `exception` log record with
 * `exception.*` attributes, `exception.source = react.error_boundary` and the React component
 * stack (`react.component_stack`). Reports wait for the SDK if it is still loading.
 */
export class TracewireErrorBoundary extends Component<TracewireErrorBoundaryProps, State> {
  override state: State = { failed: false, error: null };

  static getDerivedStateFromError(error: unknown): State {
    return { failed: true, error };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    captureException(error, {
      'exception.source': 'react.error_boundary',
      'react.component_stack': info.componentStack ?? '',
      ...this.props.attributes,
    });
    this.props.onError?.(error, info);
  }

  /** Renders the children again. */
  reset = (): void => {
    this.setState({ failed: false, error: null });
  };

  override render(): ReactNode {
    if (!this.state.failed) return this.props.children;
    const { fallback } = this.props;
    if (typeof fallback === 'function') return fallback(this.state.error, this.reset);
    return fallback ?? null;
  }
}
