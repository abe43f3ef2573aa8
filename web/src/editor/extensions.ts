/**
 * The editor schema. Everything that enters the document (typing, pasting HTML, another client's
 * update) becomes ProseMirror nodes of this schema; anything else is dropped. There is no raw HTML
 * node, no image, no iframe, no attribute that could hold a handler: a pasted `<script>`, an
 * `onerror=` or a `javascript:` link has nowhere to live (FM-3.6).
 */
import type { Extensions } from '@tiptap/core';
import StarterKit from '@tiptap/starter-kit';
import Collaboration from '@tiptap/extension-collaboration';
import CollaborationCaret from '@tiptap/extension-collaboration-caret';
import { Placeholder } from '@tiptap/extensions';
import type * as Y from 'yjs';
import type { Awareness } from 'y-protocols/awareness';
import { isSafeHref } from './safe-url';

/** The shared type holding the document body. */
export const BODY_FIELD = 'body';

export interface EditorExtensionOptions {
  readonly doc: Y.Doc;
  readonly awareness: Awareness;
  readonly user: { readonly name: string; readonly color: string };
  readonly readOnly: boolean;
}

export function buildExtensions({ doc, awareness, user, readOnly }: EditorExtensionOptions): Extensions {
  return [
    StarterKit.configure({
      // Collaboration brings its own undo manager, which undoes only this user's changes.
      undoRedo: false,
      heading: { levels: [1, 2, 3] },
      // A trailing paragraph would be written into the shared document by every client that opens it.
      trailingNode: false,
      link: {
        openOnClick: readOnly,
        autolink: true,
        linkOnPaste: true,
        defaultProtocol: 'https',
        protocols: [],
        HTMLAttributes: { rel: 'noopener noreferrer nofollow', target: '_blank' },
        isAllowedUri: (url, ctx) => ctx.defaultValidate(url) && isSafeHref(url),
        shouldAutoLink: (url) => isSafeHref(url),
      },
    }),
    Placeholder.configure({ placeholder: readOnly ? 'This document is empty.' : 'Start writing…' }),
    Collaboration.configure({ fragment: doc.getXmlFragment(BODY_FIELD) }),
    CollaborationCaret.configure({
      provider: { awareness },
      user,
    }),
  ];
}
