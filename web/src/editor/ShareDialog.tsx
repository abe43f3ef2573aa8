import { useEffect, useId, useRef, useState, type FormEvent } from 'react';
import { api, type Member, type Role, type UserSuggestion } from '../api';
import { ROLE_LABEL } from '../format';
import { Avatar } from '../components/Avatar';

const ROLES: readonly Role[] = ['viewer', 'editor', 'owner'];
const ROLE_HELP: Record<Role, string> = {
  viewer: 'can read and see live changes',
  editor: 'can edit and rename',
  owner: 'can also share and change roles',
};

interface ShareDialogProps {
  readonly docId: string;
  readonly title: string;
  readonly me: { readonly userId: string };
  readonly myRole: Role;
  readonly members: readonly Member[];
  readonly onMembersChanged: (members: Member[]) => void;
  readonly onClose: () => void;
}

export function ShareDialog({ docId, title, me, myRole, members, onMembersChanged, onClose }: ShareDialogProps) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const canShare = myRole === 'owner';
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('editor');
  const [suggestions, setSuggestions] = useState<UserSuggestion[]>([]);
  const [activeIndex, setActiveIndex] = useState(-1);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const listId = useId();

  useEffect(() => {
    const d = dialogRef.current;
    if (d && !d.open) d.showModal();
  }, []);

  // Suggestions from users who have signed in at least once (debounced, latest query wins).
  useEffect(() => {
    const prefix = name.trim();
    if (!canShare || prefix.length === 0) {
      setSuggestions([]);
      return;
    }
    let live = true;
    const t = setTimeout(() => {
      api
        .suggestUsers(prefix)
        .then((users) => {
          if (!live) return;
          const memberIds = new Set(members.map((m) => m.userId));
          setSuggestions(users.filter((u) => !memberIds.has(u.userId)).slice(0, 8));
          setActiveIndex(-1);
        })
        .catch(() => live && setSuggestions([]));
    }, 150);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [name, canShare, members]);

  const invite = async (e: FormEvent) => {
    e.preventDefault();
    const userId = (activeIndex >= 0 ? suggestions[activeIndex]?.userId : undefined) ?? name.trim();
    if (!userId) return;
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const member = await api.setMember(docId, userId, role);
      onMembersChanged([...members.filter((m) => m.userId !== member.userId), member]);
      setNotice(`${member.userId} is now ${ROLE_LABEL[member.role].toLowerCase()} of this document.`);
      setName('');
      setSuggestions([]);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const changeRole = async (userId: string, next: Role) => {
    setError(null);
    setNotice(null);
    try {
      const member = await api.setMember(docId, userId, next);
      onMembersChanged(members.map((m) => (m.userId === userId ? member : m)));
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const remove = async (userId: string) => {
    setError(null);
    setNotice(null);
    try {
      await api.removeMember(docId, userId);
      onMembersChanged(members.filter((m) => m.userId !== userId));
    } catch (err) {
      setError((err as Error).message);
    }
  };

  const sorted = [...members].sort((a, b) => ROLES.indexOf(b.role) - ROLES.indexOf(a.role) || a.userId.localeCompare(b.userId));

  return (
    <dialog ref={dialogRef} className="dialog" aria-labelledby="share-title" onClose={onClose} onCancel={onClose}>
      <div className="dialog-head">
        <h2 id="share-title">Share “{title || 'Untitled document'}”</h2>
        <button type="button" className="icon-btn" aria-label="Close sharing" onClick={() => dialogRef.current?.close()}>
          ×
        </button>
      </div>
      {canShare ? (
        <form className="invite" onSubmit={invite}>
          <div className="combo">
            <label htmlFor="invite-name">Add people by name</label>
            <input
              id="invite-name"
              className="input"
              autoComplete="off"
              placeholder="Their Concord user name"
              value={name}
              onChange={(e) => setName(e.target.value)}
              role="combobox"
              aria-expanded={suggestions.length > 0}
              aria-controls={listId}
              aria-autocomplete="list"
              aria-activedescendant={activeIndex >= 0 ? `${listId}-${activeIndex}` : undefined}
              onKeyDown={(e) => {
                if (e.key === 'ArrowDown' && suggestions.length) {
                  e.preventDefault();
                  setActiveIndex((i) => (i + 1) % suggestions.length);
                } else if (e.key === 'ArrowUp' && suggestions.length) {
                  e.preventDefault();
                  setActiveIndex((i) => (i <= 0 ? suggestions.length - 1 : i - 1));
                }
              }}
            />
            {suggestions.length > 0 && (
              <ul className="suggestions" id={listId} role="listbox" aria-label="Matching people">
                {suggestions.map((u, i) => (
                  <li
                    key={u.userId}
                    id={`${listId}-${i}`}
                    role="option"
                    aria-selected={i === activeIndex}
                    className={i === activeIndex ? 'active' : undefined}
                    onMouseDown={(e) => e.preventDefault()}
                    onClick={() => {
                      setName(u.userId);
                      setSuggestions([]);
                    }}
                  >
                    <Avatar userId={u.userId} name={u.name} size="sm" />
                    <span>{u.name}</span>
                    {u.name !== u.userId && <span className="muted">{u.userId}</span>}
                  </li>
                ))}
              </ul>
            )}
          </div>
          <div>
            <label htmlFor="invite-role">Role</label>
            <select id="invite-role" className="input" value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {ROLE_LABEL[r]}
                </option>
              ))}
            </select>
          </div>
          <button type="submit" className="btn primary" disabled={busy || !name.trim()}>
            {busy ? 'Inviting…' : 'Invite'}
          </button>
          <p className="role-help muted">
            {ROLE_LABEL[role]}s {ROLE_HELP[role]}.
          </p>
        </form>
      ) : (
        <p className="muted">Only owners can share this document or change roles. You are {ROLE_LABEL[myRole].toLowerCase()}.</p>
      )}
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
      <h3 className="members-title">People with access</h3>
      <ul className="members" aria-label="People with access">
        {sorted.map((m) => (
          <li key={m.userId} className="member">
            <Avatar userId={m.userId} name={m.userId} size="sm" />
            <span className="member-name">
              {m.userId}
              {m.userId === me.userId && <span className="muted"> (you)</span>}
            </span>
            {canShare && m.userId !== me.userId ? (
              <>
                <label className="sr-only" htmlFor={`role-${m.userId}`}>
                  Role of {m.userId}
                </label>
                <select id={`role-${m.userId}`} className="input compact" value={m.role} onChange={(e) => void changeRole(m.userId, e.target.value as Role)}>
                  {ROLES.map((r) => (
                    <option key={r} value={r}>
                      {ROLE_LABEL[r]}
                    </option>
                  ))}
                </select>
                <button type="button" className="btn small ghost" onClick={() => void remove(m.userId)} aria-label={`Remove ${m.userId}`}>
                  Remove
                </button>
              </>
            ) : (
              <span className={`role-badge role-${m.role}`}>{ROLE_LABEL[m.role]}</span>
            )}
          </li>
        ))}
      </ul>
      <div className="dialog-foot">
        <button type="button" className="btn" onClick={() => dialogRef.current?.close()}>
          Done
        </button>
      </div>
    </dialog>
  );
}
