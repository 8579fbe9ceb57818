// Which screen the window shows.

export type SettingsSection = 'accounts' | 'connections' | 'apps' | 'activity' | 'keychain' | 'general' | 'about';

export type Route =
  | { name: 'accounts' }
  | { name: 'add' }
  | { name: 'account'; id: string }
  | { name: 'settings'; section: SettingsSection };

export class Router {
  route = $state<Route>({ name: 'accounts' });

  #beforeNavigate: (() => void)[] = [];

  /** Runs `hook` before each navigation (a store that clears what was seen on leaving a screen). */
  onNavigate(hook: () => void): void {
    this.#beforeNavigate.push(hook);
  }

  navigate(route: Route): void {
    for (const hook of this.#beforeNavigate) hook();
    this.route = route;
  }
}
