import { lazy, Suspense, useEffect } from 'react';
import { useIdentity } from './identity';
import { matchRoute, usePathname } from './router';
import { AppHeader } from './components/AppHeader';
import { SignInPage } from './pages/SignInPage';
import { DocumentListPage } from './pages/DocumentListPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { Spinner } from './components/Spinner';

// The editor (Tiptap, ProseMirror, Yjs) is its own chunk: the sign-in and list screens never load it.
const EditorPage = lazy(() => import('./pages/EditorPage'));

export function App() {
  const pathname = usePathname();
  const route = matchRoute(pathname);
  const { identity, reload } = useIdentity();

  useEffect(() => {
    if (identity.status !== 'signed-in' || !identity.offline) return;
    window.addEventListener('online', reload);
    return () => window.removeEventListener('online', reload);
  }, [identity, reload]);

  useEffect(() => {
    if (route.name !== 'document') document.title = 'Concord';
  }, [route.name]);

  if (identity.status === 'loading') {
    return (
      <div className="page-center" aria-busy="true">
        <Spinner label="Loading Concord" />
      </div>
    );
  }
  if (identity.status === 'signed-out') return <SignInPage returnTo={pathname} />;
  if (identity.status === 'error') {
    return (
      <div className="page-center">
        <div className="card narrow" role="alert">
          <h1>Concord is unreachable</h1>
          <p className="muted">{identity.message}</p>
          <button type="button" className="btn primary" onClick={reload}>
            Try again
          </button>
        </div>
      </div>
    );
  }

  const me = identity.me;
  return (
    <div className="app">
      <AppHeader me={me} offline={identity.offline} />
      {route.name === 'home' && <DocumentListPage me={me} />}
      {route.name === 'document' && (
        <Suspense
          fallback={
            <div className="page-center">
              <Spinner label="Opening the editor" />
            </div>
          }
        >
          <EditorPage key={route.docId} docId={route.docId} me={me} />
        </Suspense>
      )}
      {route.name === 'not-found' && <NotFoundPage />}
    </div>
  );
}
