import { useState } from 'react';
import { api } from '../api';
import { forgetIdentity } from '../identity';
import { onLinkClick } from '../router';
import { Avatar } from './Avatar';

export function AppHeader({ me, offline }: { me: { userId: string; name: string }; offline: boolean }) {
  const [signingOut, setSigningOut] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const signOut = async () => {
    setSigningOut(true);
    setError(null);
    try {
      await api.logout();
      forgetIdentity();
      window.location.assign('/');
    } catch (e) {
      setSigningOut(false);
      setError(e instanceof Error ? e.message : 'Sign-out failed; try again.');
    }
  };

  return (
    <header className="app-header">
      <a className="brand" href="/" onClick={(e) => onLinkClick(e, '/')}>
        <img src="/favicon.svg" alt="" width={26} height={26} />
        <span>Concord</span>
      </a>
      <div className="header-right">
        {offline && (
          <span className="pill warn" title="Showing what is kept on this device">
            Offline
          </span>
        )}
        <span className="who">
          <Avatar userId={me.userId} name={me.name} size="sm" />
          <span className="who-name" data-testid="current-user">
            {me.name}
          </span>
        </span>
        <button type="button" className="btn ghost" onClick={signOut} disabled={signingOut || offline}>
          {signingOut ? 'Signing out…' : 'Sign out'}
        </button>
        {error && (
          <span className="inline-error" role="alert">
            {error}
          </span>
        )}
      </div>
    </header>
  );
}
