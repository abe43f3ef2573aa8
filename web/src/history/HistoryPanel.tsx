/**
 * Version history (issue 9, docs/history.md): the list of versions (time, authors, name), a
 * read-only preview of one with the blocks that differ from the current document highlighted,
 * "Name this version" and "Restore" for editors and owners. Viewers browse only. A restore is a
 * new forward change made by the server; it arrives here over the socket like anyone's edit.
 */
import { useCallback, useEffect, useMemo, useState, type FormEvent } from 'react';
import * as Y from 'yjs';
import { ApiError, type Role } from '../api';
import { formatWhen } from '../format';
import { BODY_FIELD, blockKeys, compareBlocks, previewBlocks, versionDoc, type BlockChange, type PreviewBlock } from '../../../lambdas/core/history';
import { historyApi, type VersionInfo } from './history-api';
import './history.css';

interface Props {
  readonly docId: string;
  /** The live document, to compare versions against. */
  readonly doc: Y.Doc;
  readonly role: Role;
  readonly onClose: () => void;
}

type Preview = { readonly version: number; readonly blocks: PreviewBlock[] } | null;

const message = (e: unknown) => (e instanceof ApiError || e instanceof Error ? e.message : String(e));

export function HistoryPanel({ docId, doc, role, onClose }: Props) {
  const canChange = role === 'owner' || role === 'editor';
  const [versions, setVersions] = useState<VersionInfo[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const [preview, setPreview] = useState<Preview>(null);
  const [busy, setBusy] = useState(false);
  const currentKeys = useCurrentBlockKeys(doc);

  const reload = useCallback(async () => {
    try {
      setVersions(await historyApi.list(docId));
    } catch (e) {
      setError(message(e));
    }
  }, [docId]);

  useEffect(() => void reload(), [reload]);

  useEffect(() => {
    if (selected === null) return;
    let live = true;
    setPreview(null);
    historyApi
      .state(docId, selected)
      .then((state) => {
        const vdoc = versionDoc(state);
        const blocks = previewBlocks(vdoc, BODY_FIELD);
        vdoc.destroy();
        if (live) setPreview({ version: selected, blocks });
      })
      .catch((e: unknown) => live && setError(message(e)));
    return () => {
      live = false;
    };
  }, [docId, selected]);

  const changes = useMemo(() => (preview ? compareBlocks(preview.blocks.map((b) => b.key), currentKeys) : []), [preview, currentKeys]);

  const restore = async (version: number) => {
    setBusy(true);
    setError(null);
    try {
      const result = await historyApi.restore(docId, version);
      setNotice(result.changed ? `Restored ${describe(versions, version)}. Everyone sees it now; the state before it is kept as a version, so you can restore that to go back.` : 'The document already matches this version.');
      // The state before the restore was saved as a new version.
      void reload();
    } catch (e) {
      setError(message(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <aside className="history-panel" aria-label="Version history" data-testid="history-panel">
      <header className="history-header">
        <h2>Version history</h2>
        <button type="button" className="btn ghost small" onClick={onClose} aria-label="Close version history">
          Close
        </button>
      </header>
      {canChange ? <NameVersionForm docId={docId} onNamed={(v) => (setNotice(`Saved “${v.name}”.`), void reload())} onError={setError} /> : <p className="muted small">You can browse versions; editors and owners can restore them.</p>}
      {error && (
        <p className="banner error" role="alert">
          {error}
        </p>
      )}
      {notice && (
        <p className="banner ok" role="status">
          {notice}
        </p>
      )}
      {versions === null ? (
        <p className="muted">Loading versions…</p>
      ) : versions.length === 0 ? (
        <p className="muted">No versions yet. Versions are saved automatically as you edit, or name one above.</p>
      ) : (
        <ol className="history-list" aria-label="Versions">
          {versions.map((v) => (
            <li key={v.version}>
              <button type="button" className={`history-item${selected === v.version ? ' selected' : ''}`} aria-pressed={selected === v.version} onClick={() => setSelected(v.version)} data-testid={`version-${v.version}`}>
                <span className="history-name">{v.name ?? 'Automatic version'}</span>
                <time dateTime={new Date(v.createdAt).toISOString()} title={new Date(v.createdAt).toLocaleString()}>
                  {formatWhen(v.createdAt)}
                </time>
                <span className="history-authors">{v.authors.length ? `by ${v.authors.join(', ')}` : ''}</span>
              </button>
            </li>
          ))}
        </ol>
      )}
      {selected !== null && (
        <section className="history-preview" aria-label="Version preview">
          <div className="history-preview-bar">
            <strong>{describe(versions, selected)}</strong>
            <DiffSummary changes={changes} />
            {canChange && (
              <button type="button" className="btn primary small" disabled={busy || !preview} onClick={() => void restore(selected)}>
                Restore this version
              </button>
            )}
          </div>
          {preview ? <PreviewBlocks blocks={preview.blocks} changes={changes} /> : <p className="muted">Loading the version…</p>}
        </section>
      )}
    </aside>
  );
}

function describe(versions: VersionInfo[] | null, version: number): string {
  const v = versions?.find((x) => x.version === version);
  if (!v) return `version ${version}`;
  return v.name ? `“${v.name}”` : new Date(v.createdAt).toLocaleString();
}

/** Top-level block keys of the live document, recomputed as edits arrive. */
function useCurrentBlockKeys(doc: Y.Doc): string[] {
  const [keys, setKeys] = useState(() => blockKeys(doc, BODY_FIELD));
  useEffect(() => {
    const update = () => setKeys(blockKeys(doc, BODY_FIELD));
    update();
    doc.on('afterTransaction', update);
    return () => doc.off('afterTransaction', update);
  }, [doc]);
  return keys;
}

function DiffSummary({ changes }: { changes: BlockChange[] }) {
  const differ = changes.filter((c) => c.kind === 'version-only').length;
  const added = changes.filter((c) => c.kind === 'current-only').length;
  if (differ === 0 && added === 0) return <span className="muted small" data-testid="history-diff-summary">Same as the current document</span>;
  return (
    <span className="muted small" data-testid="history-diff-summary">
      {differ} {differ === 1 ? 'block differs' : 'blocks differ'} from the current document{added ? `; ${added} current ${added === 1 ? 'block is' : 'blocks are'} not in it` : ''}
    </span>
  );
}

function PreviewBlocks({ blocks, changes }: { blocks: PreviewBlock[]; changes: BlockChange[] }) {
  const differs = new Set(changes.flatMap((c) => (c.kind === 'version-only' ? [c.versionIndex] : [])));
  return (
    <div className="history-blocks prose" data-testid="history-preview" aria-readonly="true">
      {blocks.length === 0 && <p className="muted">(empty document)</p>}
      {blocks.map((b, i) => (
        <PreviewBlockView key={i} block={b} changed={differs.has(i)} />
      ))}
    </div>
  );
}

function PreviewBlockView({ block, changed }: { block: PreviewBlock; changed: boolean }) {
  const className = `history-block${changed ? ' changed' : ''}`;
  const props = { className, 'data-changed': changed ? 'true' : undefined, title: changed ? 'Differs from the current document' : undefined };
  if (block.type === 'heading') {
    const level = Math.min(Math.max(Number(block.attributes.level) || 1, 1), 6);
    const Tag = `h${level}` as 'h1';
    return <Tag {...props}>{block.text}</Tag>;
  }
  if (block.type === 'codeBlock') return <pre {...props}>{block.text}</pre>;
  if (block.type === 'blockquote') return <blockquote {...props}>{block.text}</blockquote>;
  if (block.type === 'bulletList' || block.type === 'orderedList' || block.type === 'taskList') {
    const items = block.text.split('\n');
    const List = block.type === 'orderedList' ? 'ol' : 'ul';
    return (
      <List {...props}>
        {items.map((t, i) => (
          <li key={i}>{t}</li>
        ))}
      </List>
    );
  }
  if (block.type === 'horizontalRule') return <hr {...props} />;
  return <p {...props}>{block.text}</p>;
}

function NameVersionForm({ docId, onNamed, onError }: { docId: string; onNamed: (v: VersionInfo) => void; onError: (m: string | null) => void }) {
  const [name, setName] = useState('');
  const [saving, setSaving] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return;
    setSaving(true);
    onError(null);
    try {
      onNamed(await historyApi.name(docId, name.trim()));
      setName('');
    } catch (err) {
      onError(message(err));
    } finally {
      setSaving(false);
    }
  };
  return (
    <form className="history-name-form" onSubmit={submit}>
      <label htmlFor="version-name">Name this version</label>
      <div className="row">
        <input id="version-name" value={name} maxLength={100} placeholder="e.g. Draft sent to legal" onChange={(e) => setName(e.target.value)} />
        <button type="submit" className="btn small" disabled={saving || !name.trim()}>
          Save
        </button>
      </div>
    </form>
  );
}
