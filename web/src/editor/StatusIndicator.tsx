import { useSyncExternalStore } from 'react';
import type { ConcordProvider } from '../sync/concord-provider';
import { describeStatus } from '../sync/status';

export function useSyncStatus(provider: ConcordProvider) {
  return useSyncExternalStore(provider.subscribe, provider.getSnapshot);
}

export function StatusIndicator({ provider }: { provider: ConcordProvider }) {
  const snapshot = useSyncStatus(provider);
  const view = describeStatus(snapshot);
  return (
    <span className={`status status-${view.tone}`} role="status" aria-live="polite" title={view.detail} data-testid="sync-status" data-connection={snapshot.connection} data-pending={snapshot.pending} data-saved={snapshot.saved ? 'true' : 'false'}>
      <span className="status-dot" aria-hidden="true" />
      <span className="status-label" data-testid="sync-status-label">{view.label}</span>
      <span className="sr-only">. {view.detail}</span>
    </span>
  );
}
