import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { api, type DocumentSummary } from '../api';
import { formatWhen, ROLE_LABEL } from '../format';
import { navigate, onLinkClick } from '../router';
import { Spinner } from '../components/Spinner';

type Load = { status: 'loading' } | { status: 'ready'; docs: DocumentSummary[] } | { status: 'error'; message: string };

const sortDocs = (docs: DocumentSummary[]) =>
  [...docs].sort((a, b) => (typeof b.createdAt === 'number' ? b.createdAt : Date.parse(b.createdAt)) - (typeof a.createdAt === 'number' ? a.createdAt : Date.parse(a.createdAt)));

export function DocumentListPage({ me }: { me: { userId: string; name: string } }) {
  const [load, setLoad] = useState<Load>({ status: 'loading' });
  const [creating, setCreating] = useState(false);
  const [newTitle, setNewTitle] = useState('');
  const [actionError, setActionError] = useState<string | null>(null);
  const [filter, setFilter] = useState('');

  const refresh = useCallback(() => {
    api
      .listDocuments()
      .then((docs) => setLoad({ status: 'ready', docs: sortDocs(docs) }))
      .catch((e: Error) => setLoad({ status: 'error', message: e.message }));
  }, []);
  useEffect(refresh, [refresh]);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setCreating(true);
    setActionError(null);
    try {
      const doc = await api.createDocument(newTitle.trim() || undefined);
      navigate(`/d/${encodeURIComponent(doc.docId)}`);
    } catch (err) {
      setActionError((err as Error).message);
      setCreating(false);
    }
  };

  const renamed = (docId: string, title: string) =>
    setLoad((l) => (l.status === 'ready' ? { status: 'ready', docs: l.docs.map((d) => (d.docId === docId ? { ...d, title } : d)) } : l));

  const visible = load.status === 'ready' ? load.docs.filter((d) => d.title.toLowerCase().includes(filter.trim().toLowerCase())) : [];

  return (
    <main className="page">
      <div className="page-head">
        <div>
          <h1>Documents</h1>
          <p className="muted">Signed in as {me.name}. Everything you can open, newest first.</p>
        </div>
        <form className="create-form" onSubmit={create} aria-label="Create a document">
          <label className="sr-only" htmlFor="new-title">
            Title of the new document
          </label>
          <input id="new-title" className="input" placeholder="Untitled document" value={newTitle} onChange={(e) => setNewTitle(e.target.value)} maxLength={200} disabled={creating} />
          <button type="submit" className="btn primary" disabled={creating}>
            {creating ? 'Creating…' : 'New document'}
          </button>
        </form>
      </div>
      {actionError && (
        <p className="banner error" role="alert">
          {actionError}
        </p>
      )}
      {load.status === 'loading' && <Spinner label="Loading your documents" />}
      {load.status === 'error' && (
        <div className="banner error" role="alert">
          <span>{load.message}</span>
          <button type="button" className="btn small" onClick={refresh}>
            Retry
          </button>
        </div>
      )}
      {load.status === 'ready' && load.docs.length === 0 && (
        <div className="empty">
          <h2>No documents yet</h2>
          <p className="muted">Create one above, or ask a colleague to share theirs with you ({me.userId}).</p>
        </div>
      )}
      {load.status === 'ready' && load.docs.length > 0 && (
        <>
          {load.docs.length > 6 && (
            <div className="list-tools">
              <label className="sr-only" htmlFor="doc-filter">
                Filter documents by title
              </label>
              <input id="doc-filter" className="input" type="search" placeholder="Filter by title" value={filter} onChange={(e) => setFilter(e.target.value)} />
            </div>
          )}
          <ul className="doc-list" aria-label="Your documents">
            {visible.map((d) => (
              <DocumentRow key={d.docId} doc={d} me={me} onRenamed={renamed} />
            ))}
          </ul>
        </>
      )}
    </main>
  );
}

function DocumentRow({ doc, me, onRenamed }: { doc: DocumentSummary; me: { userId: string }; onRenamed: (docId: string, title: string) => void }) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(doc.title);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const href = `/d/${encodeURIComponent(doc.docId)}`;
  const canRename = doc.role !== 'viewer';

  useEffect(() => {
    if (editing) inputRef.current?.select();
  }, [editing]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    const title = draft.trim();
    if (!title || title === doc.title) {
      setEditing(false);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const updated = await api.renameDocument(doc.docId, title);
      onRenamed(doc.docId, updated.title ?? title);
      setEditing(false);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <li className="doc-row" data-doc-id={doc.docId}>
      <span className="doc-icon" aria-hidden="true">
        <svg viewBox="0 0 24 24" width="20" height="20">
          <path d="M6 2h8l6 6v12a2 2 0 0 1-2 2H6a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2Z" fill="none" stroke="currentColor" strokeWidth="1.6" />
          <path d="M14 2v6h6M8 13h8M8 17h5" fill="none" stroke="currentColor" strokeWidth="1.6" />
        </svg>
      </span>
      <div className="doc-main">
        {editing ? (
          <form onSubmit={save} className="rename-form">
            <label className="sr-only" htmlFor={`rename-${doc.docId}`}>
              New title for {doc.title}
            </label>
            <input
              ref={inputRef}
              id={`rename-${doc.docId}`}
              className="input"
              value={draft}
              maxLength={200}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={(e) => {
                if (e.key === 'Escape') {
                  setDraft(doc.title);
                  setEditing(false);
                }
              }}
              disabled={busy}
            />
            <button type="submit" className="btn small primary" disabled={busy}>
              Save
            </button>
            <button
              type="button"
              className="btn small ghost"
              onClick={() => {
                setDraft(doc.title);
                setEditing(false);
              }}
            >
              Cancel
            </button>
          </form>
        ) : (
          <a className="doc-title" href={href} onClick={(e) => onLinkClick(e, href)}>
            {doc.title || 'Untitled document'}
          </a>
        )}
        <span className="doc-meta">
          {doc.ownerId === me.userId ? 'You own this' : `Owned by ${doc.ownerId}`} · created {formatWhen(doc.createdAt)}
        </span>
        {error && (
          <span className="inline-error" role="alert">
            {error}
          </span>
        )}
      </div>
      <span className={`role-badge role-${doc.role}`}>{ROLE_LABEL[doc.role] ?? doc.role}</span>
      <div className="doc-actions">
        {canRename && !editing && (
          <button type="button" className="btn small ghost" onClick={() => setEditing(true)} aria-label={`Rename ${doc.title || 'Untitled document'}`}>
            Rename
          </button>
        )}
        <a className="btn small" href={href} onClick={(e) => onLinkClick(e, href)} aria-label={`Open ${doc.title || 'Untitled document'}`}>
          Open
        </a>
      </div>
    </li>
  );
}
