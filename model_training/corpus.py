"""Sentence material for the generated corpus: random sentences from per-language word lists.

Random word sequences (seeded) cover far more phone contexts than a fixed sentence list, and each
engine's own letter-to-sound rules turn them into phones, so timing labels stay exact. English lists
are rich in bilabials, labiodentals and rounded vowels, the visually distinctive phones.
"""

from __future__ import annotations

import random

WORDS: dict[str, str] = {
    "en": (
        "the a and people but maybe mom bob map baby happy pepper apple bubble member number "
        "summer number problem remember probably possible film lamp ham jump bump web "
        "five voice very of have off fever coffee over village travel favourite after "
        "who you two blue food moon soon room school cool shoe true new few music beautiful "
        "go show know old open hope boat road phone slow window yellow "
        "she should shop fish wash machine sure measure vision usual church chair judge age "
        "we way will with water what where why one world wood wool quick queen "
        "see me tea three green cheese key he believe machine teeth eat each "
        "car far start heart father calm palm arm large part "
        "cat that man hand sad back black fast last plan bad "
        "red bed head said ten bread better letter yes get "
        "sit big this little river fill give it ship "
        "up cup but much run love mother brother other just "
        "thing think thank nothing month north south mouth "
        "light night right time like my by buy mine bike "
        "now how out house about brown down town mouse "
        "boy toy voice choice join point noise "
        "learn work word bird first her turn world girl "
        "good book look took put push could would "
        "lot hot stop top job rock clock dog "
        "talk walk saw law ball call all small "
        "rain play may make take day say name game paper"
    ),
    "de": (
        "ich du er sie wir und aber bitte danke morgen abend mama papa mund baum brot butter "
        "wasser feuer vater mutter bruder schwester haus maus schön grün über müde fünf "
        "zwölf zeit zug buch tisch stuhl frau mann kind hund katze vogel fisch apfel birne "
        "milch mehl müll öl hören möchte böse straße schule sprechen wunderbar immer"
    ),
    "fr": (
        "je tu il nous vous bonjour merci maman papa pain beurre pomme boire manger monde "
        "bleu feu peu deux vous tout rouge jour pour fou une lune plume mur pur bébé "
        "fille famille ville voiture vite vent fenêtre chat chien chose bouche poisson "
        "pêche mère père frère soeur maison beaucoup oui non peut-être toujours"
    ),
    "es": (
        "yo tú él nosotros hola gracias mamá papá pan boca bebé mapa playa poco mucho "
        "fuego agua vaso vino verde uno dos tres cuatro cinco nueve diez luna mundo "
        "perro gato casa mesa silla libro pluma bueno malo bonito feliz mañana noche"
    ),
    "it": (
        "io tu lui noi voi ciao grazie mamma papà pane bocca bambino mappa poco molto "
        "fuoco acqua vino verde uno due tre quattro cinque nove dieci luna mondo "
        "cane gatto casa tavolo libro piuma buono bello felice domani notte sempre"
    ),
    "pt": (
        "eu tu ele nós olá obrigado mãe pai pão boca bebê mapa pouco muito fogo água "
        "vinho verde um dois três quatro cinco nove dez lua mundo cão gato casa mesa "
        "livro bom bonito feliz amanhã noite sempre peixe chuva"
    ),
    "nl": (
        "ik jij hij wij en maar dank je moeder vader mond boom brood boter water vuur "
        "huis muis mooi groen fiets vijf zeven tijd boek tafel vrouw man kind hond kat "
        "vogel vis appel melk school spreken altijd goed"
    ),
    "pl": (
        "ja ty on my i ale proszę dziękuję mama tata usta drzewo chleb masło woda ogień "
        "dom mysz piękny zielony pięć siedem czas książka stół kobieta mężczyzna dziecko "
        "pies kot ptak ryba jabłko mleko szkoła mówić zawsze dobry"
    ),
    "cs": (
        "já ty on my a ale prosím děkuji máma táta ústa strom chléb máslo voda oheň dům "
        "myš krásný zelený pět sedm čas kniha stůl žena muž dítě pes kočka pták ryba "
        "jablko mléko škola mluvit vždy dobrý"
    ),
    "sv": (
        "jag du han vi och men tack mamma pappa mun träd bröd smör vatten eld hus mus "
        "vacker grön fem sju tid bok bord kvinna man barn hund katt fågel fisk äpple "
        "mjölk skola prata alltid bra"
    ),
    "fi": (
        "minä sinä hän me ja mutta kiitos äiti isä suu puu leipä voi vesi tuli talo hiiri "
        "kaunis vihreä viisi seitsemän aika kirja pöytä nainen mies lapsi koira kissa "
        "lintu kala omena maito koulu puhua aina hyvä"
    ),
    "tr": (
        "ben sen o biz ve ama teşekkürler anne baba ağız ağaç ekmek tereyağı su ateş ev "
        "fare güzel yeşil beş yedi zaman kitap masa kadın adam çocuk köpek kedi kuş balık "
        "elma süt okul konuşmak her zaman iyi"
    ),
    "id": (
        "saya kamu dia kami dan tetapi terima kasih ibu bapak mulut pohon roti mentega air "
        "api rumah tikus cantik hijau lima tujuh waktu buku meja perempuan laki anak anjing "
        "kucing burung ikan apel susu sekolah bicara selalu baik"
    ),
    "ro": (
        "eu tu el noi și dar mulțumesc mamă tată gură copac pâine unt apă foc casă șoarece "
        "frumos verde cinci șapte timp carte masă femeie bărbat copil câine pisică pasăre "
        "pește măr lapte școală vorbi mereu bun"
    ),
    "hu": (
        "én te ő mi és de köszönöm anya apa száj fa kenyér vaj víz tűz ház egér szép zöld "
        "öt hét idő könyv asztal nő férfi gyerek kutya macska madár hal alma tej iskola "
        "beszélni mindig jó"
    ),
}

#: espeak-ng voice per corpus language.
ESPEAK_LANGUAGE: dict[str, str] = {
    "en": "en-us", "de": "de", "fr": "fr", "es": "es", "it": "it", "pt": "pt", "nl": "nl", "pl": "pl",
    "cs": "cs", "sv": "sv", "fi": "fi", "tr": "tr", "id": "id", "ro": "ro", "hu": "hu",
}


def sentence(rng: random.Random, language: str, min_words: int = 3, max_words: int = 12) -> str:
    """A random sentence: words from ``WORDS[language]`` with commas and a final mark."""
    words = WORDS[language].split()
    n = rng.randint(min_words, max_words)
    out: list[str] = []
    for i in range(n):
        w = rng.choice(words)
        out.append(w.capitalize() if i == 0 else w)
        if i < n - 1 and rng.random() < 0.12:
            out[-1] += ","
    return " ".join(out) + rng.choice([".", ".", ".", "?", "!"])


def utterance(rng: random.Random, language: str, max_sentences: int = 3) -> str:
    """One to ``max_sentences`` sentences (multi-sentence clips contain real pauses)."""
    return " ".join(sentence(rng, language) for _ in range(rng.randint(1, max_sentences)))
