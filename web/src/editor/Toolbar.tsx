import { useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { useEditorState, type Editor } from '@tiptap/react';
import { normalizeHref } from './safe-url';

const Icon = ({ d, label }: { d: string; label?: string }) => (
  <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
    {label ? (
      <text x="12" y="17.5" textAnchor="middle" fontSize="17" fontWeight="800" fill="currentColor" fontFamily="inherit">
        {label}
      </text>
    ) : (
      <path d={d} fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" />
    )}
  </svg>
);

const ICONS = {
  undo: 'M9 14 4 9l5-5M4 9h10.5a5.5 5.5 0 0 1 0 11H11',
  redo: 'm15 14 5-5-5-5M20 9H9.5a5.5 5.5 0 0 0 0 11H13',
  bullet: 'M9 6h11M9 12h11M9 18h11M4.5 6h.01M4.5 12h.01M4.5 18h.01',
  ordered: 'M10 6h10M10 12h10M10 18h10M4 6h1v4M4 10h2M6 18H4c0-1 2-2 2-3s-1-1.5-2-1',
  quote: 'M7 7h4v4c0 3-1.5 5-4 6M15 7h4v4c0 3-1.5 5-4 6',
  code: 'm8 8-4 4 4 4M16 8l4 4-4 4',
  codeBlock: 'M4 4h16v16H4zM9 10l-2 2 2 2M15 10l2 2-2 2',
  link: 'M10 14a4 4 0 0 0 5.66 0l3-3a4 4 0 0 0-5.66-5.66l-1 1M14 10a4 4 0 0 0-5.66 0l-3 3a4 4 0 0 0 5.66 5.66l1-1',
  strike: 'M5 12h14M16 6.5C15 5 13.5 4.5 12 4.5c-2.5 0-4 1.2-4 3 0 1.2.8 2 2 2.6M8 17.5c1 1.5 2.5 2 4 2 2.5 0 4-1.3 4-3.2 0-.6-.1-1.1-.4-1.5',
  underline: 'M7 4v6a5 5 0 0 0 10 0V4M5 20h14',
};

function ToolButton({ label, shortcut, active, disabled, onClick, children }: { label: string; shortcut?: string; active?: boolean; disabled?: boolean; onClick: () => void; children: ReactNode }) {
  return (
    <button
      type="button"
      className={`tool${active ? ' active' : ''}`}
      aria-label={label}
      aria-pressed={active === undefined ? undefined : active}
      title={shortcut ? `${label} (${shortcut})` : label}
      disabled={disabled}
      // Keep the editor's selection: clicking a button must not move focus first.
      onMouseDown={(e) => e.preventDefault()}
      onClick={onClick}
    >
      {children}
    </button>
  );
}

const mod = typeof navigator !== 'undefined' && /Mac|iPhone|iPad/.test(navigator.platform) ? '⌘' : 'Ctrl+';

export function Toolbar({ editor, disabled }: { editor: Editor; disabled: boolean }) {
  const state = useEditorState({
    editor,
    selector: ({ editor: e }) => ({
      bold: e.isActive('bold'),
      italic: e.isActive('italic'),
      underline: e.isActive('underline'),
      strike: e.isActive('strike'),
      code: e.isActive('code'),
      h1: e.isActive('heading', { level: 1 }),
      h2: e.isActive('heading', { level: 2 }),
      h3: e.isActive('heading', { level: 3 }),
      bullet: e.isActive('bulletList'),
      ordered: e.isActive('orderedList'),
      quote: e.isActive('blockquote'),
      codeBlock: e.isActive('codeBlock'),
      link: e.isActive('link'),
      href: (e.getAttributes('link').href as string | undefined) ?? '',
      canUndo: e.can().undo(),
      canRedo: e.can().redo(),
    }),
  });
  const [linkOpen, setLinkOpen] = useState(false);
  const chain = () => editor.chain().focus();

  return (
    <div className="toolbar" role="toolbar" aria-label="Formatting" aria-disabled={disabled}>
      <div className="tool-group">
        <ToolButton label="Undo your last change" shortcut={`${mod}Z`} disabled={disabled || !state.canUndo} onClick={() => chain().undo().run()}>
          <Icon d={ICONS.undo} />
        </ToolButton>
        <ToolButton label="Redo" shortcut={`${mod}Shift+Z`} disabled={disabled || !state.canRedo} onClick={() => chain().redo().run()}>
          <Icon d={ICONS.redo} />
        </ToolButton>
      </div>
      <div className="tool-group">
        <label className="sr-only" htmlFor="block-type">
          Text style
        </label>
        <select
          id="block-type"
          className="block-select"
          disabled={disabled}
          value={state.h1 ? 'h1' : state.h2 ? 'h2' : state.h3 ? 'h3' : 'p'}
          onChange={(e) => {
            const v = e.target.value;
            if (v === 'p') chain().setParagraph().run();
            else chain().setHeading({ level: Number(v.slice(1)) as 1 | 2 | 3 }).run();
          }}
        >
          <option value="p">Normal text</option>
          <option value="h1">Heading 1</option>
          <option value="h2">Heading 2</option>
          <option value="h3">Heading 3</option>
        </select>
      </div>
      <div className="tool-group">
        <ToolButton label="Bold" shortcut={`${mod}B`} active={state.bold} disabled={disabled} onClick={() => chain().toggleBold().run()}>
          <Icon d="" label="B" />
        </ToolButton>
        <ToolButton label="Italic" shortcut={`${mod}I`} active={state.italic} disabled={disabled} onClick={() => chain().toggleItalic().run()}>
          <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
            <path d="M14 4h-4M14 20h-4M14.5 4l-5 16" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
          </svg>
        </ToolButton>
        <ToolButton label="Underline" shortcut={`${mod}U`} active={state.underline} disabled={disabled} onClick={() => chain().toggleUnderline().run()}>
          <Icon d={ICONS.underline} />
        </ToolButton>
        <ToolButton label="Strikethrough" shortcut={`${mod}Shift+S`} active={state.strike} disabled={disabled} onClick={() => chain().toggleStrike().run()}>
          <Icon d={ICONS.strike} />
        </ToolButton>
        <ToolButton label="Inline code" shortcut={`${mod}E`} active={state.code} disabled={disabled} onClick={() => chain().toggleCode().run()}>
          <Icon d={ICONS.code} />
        </ToolButton>
        <ToolButton label={state.link ? 'Edit link' : 'Add link'} active={state.link} disabled={disabled} onClick={() => setLinkOpen((o) => !o)}>
          <Icon d={ICONS.link} />
        </ToolButton>
      </div>
      <div className="tool-group">
        <ToolButton label="Bulleted list" active={state.bullet} disabled={disabled} onClick={() => chain().toggleBulletList().run()}>
          <Icon d={ICONS.bullet} />
        </ToolButton>
        <ToolButton label="Numbered list" active={state.ordered} disabled={disabled} onClick={() => chain().toggleOrderedList().run()}>
          <Icon d={ICONS.ordered} />
        </ToolButton>
        <ToolButton label="Quote" active={state.quote} disabled={disabled} onClick={() => chain().toggleBlockquote().run()}>
          <Icon d={ICONS.quote} />
        </ToolButton>
        <ToolButton label="Code block" active={state.codeBlock} disabled={disabled} onClick={() => chain().toggleCodeBlock().run()}>
          <Icon d={ICONS.codeBlock} />
        </ToolButton>
      </div>
      {linkOpen && !disabled && <LinkPopover editor={editor} currentHref={state.href} onClose={() => setLinkOpen(false)} />}
    </div>
  );
}

function LinkPopover({ editor, currentHref, onClose }: { editor: Editor; currentHref: string; onClose: () => void }) {
  const [value, setValue] = useState(currentHref);
  const [error, setError] = useState<string | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  useEffect(() => inputRef.current?.focus(), []);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    if (!value.trim()) {
      editor.chain().focus().extendMarkRange('link').unsetLink().run();
      onClose();
      return;
    }
    const href = normalizeHref(value);
    if (!href) {
      setError('Only web (https://), email and phone links are allowed.');
      return;
    }
    const { empty } = editor.state.selection;
    if (empty && !editor.isActive('link')) editor.chain().focus().insertContent({ type: 'text', text: value.trim(), marks: [{ type: 'link', attrs: { href } }] }).run();
    else editor.chain().focus().extendMarkRange('link').setLink({ href }).run();
    onClose();
  };

  return (
    <form className="link-popover" onSubmit={apply} onKeyDown={(e) => e.key === 'Escape' && onClose()}>
      <label htmlFor="link-href">Link address</label>
      <input ref={inputRef} id="link-href" className="input" value={value} placeholder="https://example.com" onChange={(e) => setValue(e.target.value)} aria-invalid={error ? true : undefined} aria-describedby={error ? 'link-error' : undefined} />
      <button type="submit" className="btn small primary">
        Apply
      </button>
      {currentHref && (
        <button
          type="button"
          className="btn small ghost"
          onClick={() => {
            editor.chain().focus().extendMarkRange('link').unsetLink().run();
            onClose();
          }}
        >
          Remove
        </button>
      )}
      {error && (
        <span id="link-error" className="inline-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
