/**
 * Calls `onHide` when the page is hidden or left (`visibilitychange` → hidden, `pagehide`): the
 * last moment a page can store and send what it recorded. Returns the function that detaches it.
 */
export function attachPageHide(onHide: () => void): () => void {
  const onVisibility = () => {
    if (document.visibilityState === 'hidden') onHide();
  };
  document.addEventListener('visibilitychange', onVisibility);
  globalThis.addEventListener?.('pagehide', onHide);
  return function detachPageHide() {
    document.removeEventListener('visibilitychange', onVisibility);
    globalThis.removeEventListener?.('pagehide', onHide);
  };
}
