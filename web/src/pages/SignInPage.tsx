import { signInUrl } from '../api';

export function SignInPage({ returnTo }: { returnTo: string }) {
  return (
    <main className="signin">
      <section className="signin-card" aria-labelledby="signin-title">
        <img src="/favicon.svg" alt="" width={48} height={48} />
        <h1 id="signin-title">Concord</h1>
        <p className="tagline">Write together, in real time. Every change is saved the moment the server confirms it, and nothing is lost when the network drops.</p>
        <a className="btn primary large" href={signInUrl(returnTo)}>
          Sign in to continue
        </a>
        <p className="fine-print">Your session lives in secure, httpOnly cookies — never in the page.</p>
      </section>
    </main>
  );
}
