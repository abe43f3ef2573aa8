import { onLinkClick } from '../router';

export function NotFoundPage() {
  return (
    <main className="page-center">
      <div className="card narrow">
        <h1>Page not found</h1>
        <p className="muted">There is nothing at this address.</p>
        <a className="btn primary" href="/" onClick={(e) => onLinkClick(e, '/')}>
          Go to your documents
        </a>
      </div>
    </main>
  );
}
