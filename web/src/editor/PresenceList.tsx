import { useEffect, useState } from 'react';
import type { Awareness } from 'y-protocols/awareness';
import { Avatar } from '../components/Avatar';

interface Present {
  readonly clientId: number;
  readonly name: string;
  readonly color: string;
  readonly self: boolean;
}

function readPresence(awareness: Awareness): Present[] {
  const seen = new Map<string, Present>();
  for (const [clientId, state] of awareness.getStates()) {
    const user = (state as { user?: { name?: unknown; color?: unknown } }).user;
    if (!user || typeof user.name !== 'string') continue;
    const self = clientId === awareness.clientID;
    const key = `${user.name}`;
    // One entry per person, however many tabs they have open; prefer our own client for "you".
    if (!seen.has(key) || self) seen.set(key, { clientId, name: user.name, color: typeof user.color === 'string' ? user.color : '#64748b', self });
  }
  return [...seen.values()].sort((a, b) => Number(b.self) - Number(a.self) || a.name.localeCompare(b.name));
}

export function PresenceList({ awareness }: { awareness: Awareness }) {
  const [people, setPeople] = useState(() => readPresence(awareness));
  useEffect(() => {
    const onChange = () => setPeople(readPresence(awareness));
    awareness.on('change', onChange);
    onChange();
    return () => awareness.off('change', onChange);
  }, [awareness]);

  const others = people.filter((p) => !p.self).length;
  return (
    <div className="presence" aria-label={others === 0 ? 'Only you are here' : `${others + 1} people here`} data-testid="presence">
      <ul className="presence-list">
        {people.slice(0, 6).map((p) => (
          <li key={p.clientId} className="presence-item" title={p.self ? `${p.name} (you)` : p.name}>
            <Avatar userId={p.name} name={p.name} size="sm" color={p.color} />
            <span className="sr-only">{p.self ? `${p.name} (you)` : p.name}</span>
          </li>
        ))}
      </ul>
      {people.length > 6 && <span className="presence-more">+{people.length - 6}</span>}
    </div>
  );
}
