import { colorForUser, initials } from '../user-color';

export function Avatar({ userId, name, size = 'md', color }: { userId: string; name: string; size?: 'sm' | 'md'; color?: string }) {
  return (
    <span className={`avatar avatar-${size}`} style={{ backgroundColor: color ?? colorForUser(userId) }} title={name} aria-hidden="true">
      {initials(name)}
    </span>
  );
}
