/**
 * The document screen: title, live status, presence, sharing, toolbar and the collaborative
 * editor. Loaded as its own chunk (Tiptap, ProseMirror and Yjs are most of the app's weight).
 */
import { useEffect, useState, useSyncExternalStore, type FormEvent } from 'react';
import { EditorContent, useEditor } from '@tiptap/react';
import { api, ApiError, signInUrl, type DocumentDetail, type Member, type Role } from '../api';
import { ROLE_LABEL } from '../format';
import { onLinkClick } from '../router';
import { colorForUser } from '../user-color';
import { cacheLoadedAssets } from '../offline-shell';
import { Spinner } from '../components/Spinner';
import { buildExtensions } from '../editor/extensions';
import { Toolbar } from '../editor/Toolbar';
import { PresenceList } from '../editor/PresenceList';
import { ShareDialog } from '../editor/ShareDialog';
import { StatusIndicator, useSyncStatus } from '../editor/StatusIndicator';
import { openDocument, type OpenedDocument } from '../sync/open-document';
import { HistoryPanel } from '../history/HistoryPanel';

type Meta =
  | { status: 'loading' }
  | { status: 'ready'; doc: DocumentDetail; offline: boolean }
  | { status: 'failed'; title: string; message: string };

const metaKey = (docId: string) => `concord:doc:${docId}`;

function cachedMeta(docId: string): DocumentDetail | null {
  try {
    return JSON.parse(sessionStorage.getItem(metaKey(docId)) ?? 'null') as DocumentDetail | null;
  } catch {
    return null;
  }
}

interface Props {
  readonly docId: string;
  readonly me: { readonly userId: string; readonly name: string };
}

export default function EditorPage({ docId, me }: Props) {
  const [meta, setMeta] = useState<Meta>({ status: 'loading' });
  const [opened, setOpened] = useState<OpenedDocument | null>(null);
  const [openError, setOpenError] = useState<string | null>(null);
  const [sharing, setSharing] = useState(false);
  const [showHistory, setShowHistory] = useState(false);

  useEffect(() => cacheLoadedAssets(), []);

  useEffect(() => {
    let live = true;
    api
      .getDocument(docId)
      .then((doc) => {
        sessionStorage.setItem(metaKey(docId), JSON.stringify(doc));
        if (live) setMeta({ status: 'ready', doc, offline: false });
      })
      .catch((e: unknown) => {
        if (!live) return;
        const cached = cachedMeta(docId);
        if (e instanceof ApiError && e.status === 0 && cached) setMeta({ status: 'ready', doc: cached, offline: true });
        else if (e instanceof ApiError && e.status === 403) setMeta({ status: 'failed', title: 'You do not have access', message: e.message });
        else if (e instanceof ApiError && e.status === 404) setMeta({ status: 'failed', title: 'Document not found', message: e.message });
        else setMeta({ status: 'failed', title: 'This document could not be opened', message: e instanceof Error ? e.message : String(e) });
      });
    return () => {
      live = false;
    };
  }, [docId]);

  const ready = meta.status === 'ready';
  useEffect(() => {
    if (!ready) return;
    const abort = new AbortController();
    let current: OpenedDocument | null = null;
    openDocument({ docId, userId: me.userId, user: { name: me.name, color: colorForUser(me.userId) } }, abort.signal)
      .then((d) => {
        if (abort.signal.aborted) {
          d.close();
          return;
        }
        current = d;
        setOpened(d);
      })
      .catch((e: unknown) => {
        if (!abort.signal.aborted) setOpenError(e instanceof Error ? e.message : String(e));
      });
    return () => {
      abort.abort();
      current?.close();
      setOpened(null);
    };
  }, [ready, docId, me.userId, me.name]);

  useEffect(() => {
    if (meta.status === 'ready') document.title = `${meta.doc.title || 'Untitled document'} — Concord`;
  }, [meta]);

  if (meta.status === 'loading') {
    return (
      <main className="page-center">
        <Spinner label="Opening the document" />
      </main>
    );
  }
  if (meta.status === 'failed') {
    return (
      <main className="page-center">
        <div className="card narrow" role="alert">
          <h1>{meta.title}</h1>
          <p className="muted">{meta.message}</p>
          <a className="btn primary" href="/" onClick={(e) => onLinkClick(e, '/')}>
            Back to your documents
          </a>
        </div>
      </main>
    );
  }

  const doc = meta.doc;
  const readOnly = doc.role === 'viewer';
  const setMembers = (members: Member[]) => setMeta({ status: 'ready', doc: { ...doc, members }, offline: meta.offline });
  const setTitle = (title: string) => {
    const next = { ...doc, title };
    sessionStorage.setItem(metaKey(docId), JSON.stringify(next));
    setMeta({ status: 'ready', doc: next, offline: meta.offline });
  };

  return (
    <main className="editor-page">
      <div className="doc-bar">
        <a className="back" href="/" onClick={(e) => onLinkClick(e, '/')} aria-label="Back to your documents">
          <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
            <path d="m15 6-6 6 6 6" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" />
          </svg>
        </a>
        <TitleField docId={docId} title={doc.title} editable={!readOnly && !meta.offline} onRenamed={setTitle} />
        <div className="doc-bar-right">
          {opened && <StatusIndicator provider={opened.provider} />}
          {opened && <PresenceList awareness={opened.awareness} />}
          <button type="button" className="btn" onClick={() => setShowHistory((v) => !v)} disabled={meta.offline || !opened} aria-expanded={showHistory} title={meta.offline ? 'Version history needs a connection' : undefined}>
            History
          </button>
          <button type="button" className={doc.role === 'owner' ? 'btn primary' : 'btn'} onClick={() => setSharing(true)} disabled={meta.offline} title={meta.offline ? 'Sharing needs a connection' : undefined}>
            {doc.role === 'owner' ? 'Share' : 'Members'}
          </button>
        </div>
      </div>
      {readOnly && <ReadOnlyBanner role={doc.role} ownerId={doc.ownerId} />}
      {opened && <ConnectionProblems opened={opened} docId={docId} />}
      {openError && (
        <p className="banner error" role="alert">
          {openError}
        </p>
      )}
      {opened ? (
        <CollaborativeEditor key={opened.doc.guid} opened={opened} readOnly={readOnly} user={{ name: me.name, color: colorForUser(me.userId) }} />
      ) : (
        !openError && <Spinner label="Loading the document" />
      )}
      {showHistory && opened && <HistoryPanel docId={docId} doc={opened.doc} role={doc.role} onClose={() => setShowHistory(false)} />}
      {sharing && <ShareDialog docId={docId} title={doc.title} me={me} myRole={doc.role} members={doc.members ?? []} onMembersChanged={setMembers} onClose={() => setSharing(false)} />}
    </main>
  );
}

function ReadOnlyBanner({ role, ownerId }: { role: Role; ownerId: string }) {
  return (
    <div className="banner readonly" role="note" data-testid="read-only-reason">
      <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
        <path d="M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12Z M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6Z" fill="none" stroke="currentColor" strokeWidth="1.8" />
      </svg>
      <span>
        <strong>View only.</strong> You are a {ROLE_LABEL[role].toLowerCase()} of this document: you can read it and watch changes live, but not edit it. Ask the owner ({ownerId}) for editor access.
      </span>
    </div>
  );
}

/** Problems the user can act on: signed out, no access, or a refused change. */
function ConnectionProblems({ opened, docId }: { opened: OpenedDocument; docId: string }) {
  const s = useSyncStatus(opened.provider);
  if (s.connection === 'signed-out') {
    return (
      <div className="banner error" role="alert">
        <span>Your session ended. {s.pending > 0 ? 'Your unsaved changes are kept on this device. ' : ''}Sign in again to keep editing.</span>
        <a className="btn small primary" href={signInUrl(`/d/${encodeURIComponent(docId)}`)}>
          Sign in again
        </a>
      </div>
    );
  }
  if (s.connection === 'no-access') {
    return (
      <div className="banner error" role="alert">
        {s.lastError?.message ?? 'You no longer have access to this document.'}
      </div>
    );
  }
  if (s.lastError && !['unavailable', 'rate_limited', 'read_only', 'token_expired', 'unauthorized'].includes(s.lastError.code)) {
    return (
      <div className="banner error" role="alert">
        {s.lastError.message}
      </div>
    );
  }
  if (!opened.offlineCopy) {
    return (
      <div className="banner warn" role="note">
        This browser cannot keep an offline copy (IndexedDB is unavailable): changes made while disconnected are lost if you close the tab.
      </div>
    );
  }
  return null;
}

function TitleField({ docId, title, editable, onRenamed }: { docId: string; title: string; editable: boolean; onRenamed: (t: string) => void }) {
  const [draft, setDraft] = useState(title);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => setDraft(title), [title]);

  const save = async (e?: FormEvent) => {
    e?.preventDefault();
    const next = draft.trim();
    if (!next || next === title) {
      setDraft(title);
      return;
    }
    try {
      const updated = await api.renameDocument(docId, next);
      setError(null);
      onRenamed(updated.title ?? next);
    } catch (err) {
      setError((err as Error).message);
      setDraft(title);
    }
  };

  if (!editable) return <h1 className="doc-title-static">{title || 'Untitled document'}</h1>;
  return (
    <form className="title-form" onSubmit={save}>
      <label className="sr-only" htmlFor="doc-title">
        Document title
      </label>
      <input
        id="doc-title"
        className="title-input"
        value={draft}
        maxLength={200}
        placeholder="Untitled document"
        onChange={(e) => setDraft(e.target.value)}
        onBlur={() => void save()}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            setDraft(title);
            (e.target as HTMLInputElement).blur();
          }
        }}
      />
      {error && (
        <span className="inline-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}

function CollaborativeEditor({ opened, readOnly: isViewer, user }: { opened: OpenedDocument; readOnly: boolean; user: { name: string; color: string } }) {
  // Access revoked while open: nothing typed could ever be saved, so stop accepting input.
  const noAccess = useSyncExternalStore(opened.provider.subscribe, () => opened.provider.getSnapshot().connection === 'no-access');
  const readOnly = isViewer || noAccess;
  const editor = useEditor(
    {
      extensions: buildExtensions({ doc: opened.doc, awareness: opened.awareness, user, readOnly }),
      editable: !readOnly,
      editorProps: {
        attributes: {
          class: 'prose',
          role: 'textbox',
          'aria-multiline': 'true',
          'aria-label': readOnly ? 'Document text (read only)' : 'Document text',
          'aria-readonly': readOnly ? 'true' : 'false',
          'data-testid': 'editor',
          spellcheck: 'true',
        },
      },
    },
    [opened, readOnly],
  );

  if (!editor) return null;
  return (
    <div className="editor-shell">
      {!readOnly && <Toolbar editor={editor} disabled={readOnly} />}
      <div className="paper">
        <EditorContent editor={editor} />
      </div>
    </div>
  );
}
