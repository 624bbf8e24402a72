// The top bar's menu on narrow screens: the "Menu" button shows the view switch, the lesson
// menu, Share and Import (they stay in the page; CSS hides them until the menu is open).
// Escape or a click outside closes it; choosing a button, view or lesson in it closes it too.

const button = document.getElementById('menu-toggle');
const menu = document.getElementById('topbar-menu');

/** Open or close the menu, keeping aria-expanded and the header's class in step. */
function setOpen(open, { focusButton = false } = {}) {
  button.setAttribute('aria-expanded', open ? 'true' : 'false');
  button.closest('.topbar').classList.toggle('menu-open', open);
  if (focusButton) button.focus();
}

const isOpen = () => button.getAttribute('aria-expanded') === 'true';

button.addEventListener('click', () => setOpen(!isOpen()));
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && isOpen()) setOpen(false, { focusButton: menu.contains(document.activeElement) || document.activeElement === button });
});
document.addEventListener('click', (e) => {
  if (isOpen() && !menu.contains(e.target) && !button.contains(e.target)) setOpen(false);
});
// A button or link in the menu did its work (a dialog opens, a view shows): the menu closes.
menu.addEventListener('click', (e) => {
  if (e.target.closest('button, a')) setOpen(false);
});
// Picking a lesson from the menu: the menu closes so the lesson's page shows.
menu.addEventListener('change', (e) => {
  if (e.target.matches('select')) setOpen(false);
});
// Widening the window past the phone layout leaves no stale open state behind.
window.matchMedia('(min-width: 641px)').addEventListener('change', (e) => { if (e.matches) setOpen(false); });
